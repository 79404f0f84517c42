"""Sealing the audit log on a schedule while the server runs (DESIGN §8).

Audited requests only insert unsealed records; this thread chains them and signs a checkpoint
(``polaris.audit.sealing``). It looks every ``SEAL_POLL_SECONDS`` (or ``audit_seal_seconds`` if
shorter): it seals when ``audit_checkpoint_interval`` records wait, and in any case once
``audit_seal_seconds`` have passed since it last sealed, so a record waits at most about
``audit_seal_seconds`` (plus the time its own transaction took to commit). Every node runs one;
the head row lock lets one seal at a time (the others skip that round). Each new checkpoint is
published after its commit (``audit.anchor.publish``: the anchor file and the log).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from polaris.audit import anchor
from polaris.audit import service as audit
from polaris.db.uow import unit_of_work
from polaris.errors import PolarisError
from polaris.instance import Instance

log = logging.getLogger("polaris.audit")

SEAL_POLL_SECONDS = 2.0
#: Batches sealed in one round at most (each of ``sealing.SEAL_BATCH`` records).
MAX_BATCHES = 20


def seal_once(instance: Instance, *, force: bool) -> int | None:
    """Seal if due (or whenever anything is unsealed, with ``force``); the last sealed seq.

    A backlog larger than one batch is sealed in several transactions, one checkpoint each.
    """
    if not force and not _enough_waiting(instance):
        return None
    sealed = None
    for _ in range(MAX_BATCHES):
        with unit_of_work(instance.sessions) as session:
            if force:
                checkpoint = audit.seal(session=session, signer=instance.audit_signer)
            else:
                checkpoint = audit.seal_if_due(
                    session=session,
                    signer=instance.audit_signer,
                    interval=instance.settings.audit_checkpoint_interval,
                )
        if checkpoint is None:
            break
        anchor.publish(checkpoint, instance.settings.audit_anchor_file)
        sealed = checkpoint.seq
        force = True  # the rest of a backlog is sealed in this round too
    return sealed


def _enough_waiting(instance: Instance) -> bool:
    """Counted in a read-only session: a poll that finds too few records to seal takes no write
    lock (SQLite's writer lock is the whole database's)."""
    reader = instance.read_sessions()
    try:
        waiting = audit.count_unsealed(session=reader)
    finally:
        reader.close()
    return waiting >= instance.settings.audit_checkpoint_interval


class PeriodicSealer:
    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        period = self._instance.settings.audit_seal_seconds
        last = time.monotonic()
        while not self._stop.wait(min(period, SEAL_POLL_SECONDS)):
            due = time.monotonic() - last >= period
            try:
                seal_once(self._instance, force=due)
            except (PolarisError, OSError, SQLAlchemyError) as error:
                # A database restart or a dropped connection must not end the thread: records
                # would wait unsealed (and unprotected) until the next server start.
                log.error("sealing the audit log failed: %s", error)
            if due:
                last = time.monotonic()
        try:
            seal_once(self._instance, force=True)
        except (PolarisError, OSError, SQLAlchemyError) as error:
            log.error("sealing the audit log at shutdown failed: %s", error)
