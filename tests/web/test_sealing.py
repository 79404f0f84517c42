"""Checkpoints sealed by the server verify against the instance's public key."""

from __future__ import annotations

from polaris.audit import service as audit
from polaris.instance import Instance
from polaris.web.sealing import seal_once


def test_seal_when_due_and_on_force(seeded: Instance) -> None:
    assert seal_once(seeded, force=False) is None  # fewer records than the interval
    sealed = seal_once(seeded, force=True)
    assert sealed is not None and sealed > 0
    assert seal_once(seeded, force=True) is None  # nothing new to seal
    session = seeded.sessions()
    try:
        report = audit.verify(session=session, public_keys=[seeded.audit_signer.public_key])
    finally:
        session.close()
    assert report.ok and report.checkpoints_valid == 1
