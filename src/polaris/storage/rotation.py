"""Master key rotation against a master key file, in the order that can be interrupted safely.

With the master key in the environment instead, do the same by hand: generate a key, put it first
in ``POLARIS_MASTER_KEY`` with the old key after it, call :meth:`BlobStore.rewrap_keys`, and drop
the old key only after ``verify`` shows no finding.
"""

from __future__ import annotations

from pathlib import Path

from polaris.storage.keys import KeyFileError, MasterKey, load_master_key_file, save_master_key_file
from polaris.storage.store import BlobStore


def rotate_master_key(store: BlobStore, key_file: Path | str) -> MasterKey:
    """Add a new master key to ``key_file``, rewrap every stored key under it, make it current.

    1. the new key is saved in the file, not yet current (so nothing is ever wrapped under a key
       that is not on disk);
    2. every data key and the dedup key gets a wrapping under it (old wrappings stay: old master
       keys keep working until retired);
    3. the file is saved again with the new key current.
    Interrupted anywhere, the store stays readable with the file as it is; run it again.
    """
    on_disk = load_master_key_file(key_file)
    new_key = MasterKey.generate()
    save_master_key_file(key_file, on_disk.with_key(new_key, make_current=False))
    store.add_master_key(new_key)
    save_master_key_file(key_file, store.keyring)
    return new_key


def retire_master_key(store: BlobStore, key_file: Path | str, key_id: bytes) -> None:
    """Remove a non-current master key from ``key_file`` (its wrappings become unusable).

    First makes sure every data key and the dedup key is wrapped under the current master key
    (rewrapping with the old key still at hand), then saves the file without the old key. The old
    key's wrapping objects stay until garbage collection; without the key they reveal nothing.
    """
    keyring = load_master_key_file(key_file)
    if keyring.get(key_id) is None:
        raise KeyFileError(f"master key {key_id.hex()} is not in {key_file}")
    remaining = keyring.without(key_id)
    store.keys.rewrap(keyring)
    save_master_key_file(key_file, remaining)
    store.keys.rewrap(remaining)
