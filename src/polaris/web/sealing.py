"""Signed audit checkpoints at an interval while the server runs (DESIGN §8).

A thread wakes every ``audit_seal_seconds``: it seals the newest record when at least
``audit_checkpoint_interval`` records are unsealed, and otherwise seals whatever is unsealed once
the interval in time has passed, so a quiet instance is still sealed every few minutes. The work is
one short transaction; two nodes sealing at once is harmless (the second finds the head sealed).
"""

from __future__ import annotations

import logging
import threading

from polaris.audit import service as audit
from polaris.db.uow import unit_of_work
from polaris.errors import PolarisError
from polaris.instance import Instance

log = logging.getLogger("polaris.audit")


def seal_once(instance: Instance, *, force: bool) -> int | None:
    """Seal if due (or whenever anything is unsealed, with ``force``); the sealed seq or None."""
    with unit_of_work(instance.sessions) as session:
        if force:
            checkpoint = audit.seal(session=session, signer=instance.audit_signer)
        else:
            checkpoint = audit.seal_if_due(
                session=session,
                signer=instance.audit_signer,
                interval=instance.settings.audit_checkpoint_interval,
            )
    return None if checkpoint is None else checkpoint.seq


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
        while not self._stop.wait(period):
            try:
                seal_once(self._instance, force=True)
            except (PolarisError, OSError) as error:
                log.error("sealing the audit log failed: %s", error)
        try:
            seal_once(self._instance, force=True)
        except (PolarisError, OSError) as error:
            log.error("sealing the audit log at shutdown failed: %s", error)
