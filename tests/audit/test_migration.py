"""Migration 20261206_0006 keeps a version 1 log valid and lets the new sealer carry it on."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.audit.encoding import GENESIS_HASH, RECORD_FIELDS, checkpoint_message, record_hash
from polaris.audit.keys import AuditSigner
from polaris.db import make_engine
from polaris.db.migrate import downgrade, upgrade
from tests.audit import factories as f
from tests.audit.conftest import _schema_engine
from tests.conftest import pg_url

SIGNER = AuditSigner.generate()


@pytest.fixture
def old_engine(db_backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own at the revision before, with a sealed version 1 log of 3 records."""
    if db_backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield from _at_old_revision(engine)
        return
    schema = f"audit_migration_{os.getpid()}"
    admin = make_engine(pg_url())
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield from _at_old_revision(_schema_engine(schema))
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _at_old_revision(engine: Engine) -> Iterator[Engine]:
    upgrade(engine, "20261123_0005")
    previous = GENESIS_HASH
    at = dt.datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=dt.UTC)
    with engine.begin() as connection:
        for seq in (1, 2, 3):
            values = dict.fromkeys(RECORD_FIELDS)
            values.update(seq=seq, at=at, action="document.read", decision="allow")
            values["prev_hash"] = previous
            previous = record_hash(values)
            connection.execute(
                text(
                    "INSERT INTO audit_record (seq, at, action, decision, prev_hash, hash, "
                    "hash_version) VALUES (:seq, :at, :action, :decision, :prev, :hash, 1)"
                ),
                {**values, "prev": values["prev_hash"], "hash": previous},
            )
        message = checkpoint_message(seq=3, hash=previous, at=at, key_id=SIGNER.key_id)
        connection.execute(
            text(
                "INSERT INTO audit_checkpoint (seq, hash, at, key_id, signature) "
                "VALUES (3, :hash, :at, :key_id, :signature)"
            ),
            {
                "hash": previous,
                "at": at,
                "key_id": SIGNER.key_id,
                "signature": SIGNER.sign(message).hex(),
            },
        )
        connection.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, :hash)"), {"hash": previous}
        )
    try:
        yield engine
    finally:
        engine.dispose()


def test_an_old_log_verifies_after_the_upgrade_and_is_carried_on(old_engine: Engine) -> None:
    upgrade(old_engine)
    with Session(old_engine, expire_on_commit=False) as session, session.begin():
        audit.append(session=session, context=f.user_context(), action="document.read")
    with Session(old_engine, expire_on_commit=False) as session, session.begin():
        checkpoint = audit.seal(session=session, signer=SIGNER)
    assert checkpoint is not None
    assert (checkpoint.seq, checkpoint.prev_seq, checkpoint.version) == (4, 3, 2)
    with Session(old_engine, expire_on_commit=False) as session:
        report = audit.verify(
            session=session,
            public_keys=[SIGNER.public_key],
            max_unsealed_age=dt.timedelta(minutes=10),
        )
        ids = [row["id"] for row in f.rows(session)]
    assert report.ok, report.findings
    assert (report.records, report.checkpoints_valid) == (4, 2)
    assert ids == [1, 2, 3, 4]
    downgrade(old_engine, "20261123_0005")  # everything is sealed: the downgrade goes through
