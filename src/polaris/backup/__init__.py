"""Continuous, immutable backups to a second target, and what they have achieved.

Infrastructure, beside storage and db (it may use them; it imports no domain). Two parts run side
by side in ``polaris backup run``:

* :mod:`polaris.backup.replicate` copies the blob store's objects to the target, create-only: the
  objects are sealed already (nothing is re-encrypted) and immutable, so a copy is never updated,
  and nothing is ever deleted there (garbage collection on the store does not reach the backup).
* :mod:`polaris.backup.litestream` writes a Litestream configuration and supervises
  ``litestream replicate``, which ships the SQLite WAL to the target within a second.

:mod:`polaris.backup.status` says how far behind each part is (docs/resilience.md, "Backups and
restore").
"""
