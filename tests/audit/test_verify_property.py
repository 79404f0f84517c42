"""Property: after any sequence of appends, any single tampering makes ``verify`` report it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.audit.encoding import GENESIS_HASH
from polaris.audit.keys import AuditSigner
from tests.audit import factories as f

SIGNER = AuditSigner.generate()

text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
optional_text = st.none() | text
contexts = st.builds(
    audit.AuditContext,
    actor_id=st.none() | st.integers(0, 10**6) | text,
    actor_name=optional_text,
    actor_role=optional_text,
    unit_id=st.none() | st.integers(0, 2000),
    auth_factors=st.none() | st.sampled_from(["password", "password+totp", "token"]),
    session_hash=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
    source_address=st.none() | st.ip_addresses().map(str),
    client=optional_text,
    request_id=optional_text,
)
details = st.none() | st.dictionaries(
    st.sampled_from(["n", "path", "stage", "scopes"]),
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | text | st.lists(text, max_size=3),
    max_size=3,
)
appends = st.fixed_dictionaries(
    {
        "context": contexts,
        "action": st.sampled_from(f.ACTIONS),
        "object_type": st.none() | st.sampled_from(["file", "folder", "user"]),
        "object_id": st.none() | st.integers(1, 10**9) | text,
        "classification": st.none() | st.sampled_from(["restricted", "secret"]),
        "decision": st.sampled_from(["allow", "deny"]),
        "reason": optional_text,
        "detail": details,
    }
)
EDITABLE = [
    "seq", "at", "actor_id", "actor_name", "actor_role", "unit_id", "auth_factors",
    "session_hash", "source_address", "client", "action", "object_type", "object_id",
    "version_hash", "classification", "decision", "reason", "request_id", "detail",
    "prev_hash", "hash", "hash_version",
]  # fmt: skip


@contextmanager
def rolled_back_session(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def changed(field: str, old: Any, seq_count: int) -> Any:
    """A value of ``field`` that differs from ``old`` and fits the column."""
    if field == "seq":
        return seq_count + 5
    if field == "at":
        return old + dt.timedelta(microseconds=1)
    if field == "hash_version":
        return old + 1
    if field in ("prev_hash", "hash"):
        return f.flip(old)
    if field == "decision":
        return "allow" if old == "deny" else "deny"
    if field == "action":
        return old[:-1] if len(old) > 10 else old + "x"
    if field == "detail":
        return '{"n":0}' if old is None else None
    return "x" if old is None else None


TAMPERINGS = (
    "edit", "delete", "delete_renumber", "insert_end", "insert_middle", "insert_start",
    "swap", "truncate", "rewrite", "checkpoint", "head",
)  # fmt: skip
Draw = Callable[[st.SearchStrategy[Any]], Any]


def tamper(session: Session, draw: Draw, count: int) -> str:
    """Apply one tampering drawn at random; returns its name (for the failure message)."""
    kind = draw(st.sampled_from(TAMPERINGS))
    seq = draw(st.integers(1, count))
    if kind == "edit" or (kind == "swap" and count < 2):
        field = draw(st.sampled_from(EDITABLE))
        old = f.row(session, seq)[field]
        f.set_fields(session, seq, **{field: changed(field, old, count)})
        return f"edit {field} of {seq}"
    if kind == "delete":
        f.delete_records(session, first=seq, last=seq)
    elif kind == "delete_renumber":
        f.delete_records(session, first=seq, last=seq)
        f.shift_seqs(session, first=seq + 1, by=-1)
    elif kind == "insert_end":
        f.insert_record(session, f.forged_values(count + 1, f.row(session, count)["hash"]))
    elif kind == "insert_middle":
        previous = GENESIS_HASH if seq == 1 else f.row(session, seq - 1)["hash"]
        f.shift_seqs(session, first=seq, by=1)
        f.insert_record(session, f.forged_values(seq, previous))
    elif kind == "insert_start":
        f.insert_record(session, f.forged_values(draw(st.integers(-3, 0)), GENESIS_HASH))
    elif kind == "swap":
        other = draw(st.integers(1, count).filter(lambda value: value != seq))
        f.swap(session, seq, other)
    elif kind == "truncate":  # rows and head cut back together: only the checkpoint knows
        keep = seq - 1
        f.delete_records(session, first=seq)
        f.set_head(
            session, seq=keep, hash=GENESIS_HASH if keep == 0 else f.row(session, keep)["hash"]
        )
    elif kind == "rewrite":  # a careful intruder: every later hash and the head recomputed
        f.set_fields(session, seq, actor_name="someone else")
        f.rehash_from(session, seq)
    elif kind == "checkpoint":
        field = draw(st.sampled_from(["seq", "hash", "at", "key_id", "signature"]))
        checkpoint = session.execute(f.CHECKPOINT.select()).mappings().first()
        assert checkpoint is not None
        value = {
            "seq": count + 7,
            "hash": f.flip(checkpoint["hash"]),
            "at": checkpoint["at"] + dt.timedelta(microseconds=1),
            "key_id": "0" * 16,
            "signature": f.flip(checkpoint["signature"]),
        }[field]
        session.execute(
            update(f.CHECKPOINT)
            .where(f.CHECKPOINT.c.seq == checkpoint["seq"])
            .values({field: value})
        )
        return f"checkpoint {field}"
    else:
        change = draw(st.sampled_from(["hash", "forward", "back", "delete"]))
        if change == "delete":
            session.execute(delete(f.HEAD))
        elif change == "hash":
            session.execute(update(f.HEAD).values(hash=f.flip(f.row(session, count)["hash"])))
        else:
            session.execute(update(f.HEAD).values(seq=count + (1 if change == "forward" else -1)))
        return f"head {change}"
    return f"{kind} at {seq}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_single_tampering_is_found(engine: Engine, data: st.DataObject) -> None:
    calls: list[dict[str, Any]] = data.draw(
        st.lists(appends, min_size=1, max_size=8), label="appends"
    )
    seal_after = data.draw(st.integers(1, len(calls)), label="first seal after")
    batch_size = data.draw(st.integers(1, 4), label="batch size")
    with rolled_back_session(engine) as session:
        for number, call in enumerate(calls, start=1):
            audit.append(session=session, **call)
            if number == seal_after:
                audit.seal(session=session, signer=SIGNER)
        audit.seal(session=session, signer=SIGNER)
        clean = audit.verify(
            session=session, public_keys=[SIGNER.public_key], batch_size=batch_size
        )
        assert clean.ok, clean.findings

        what = tamper(session, data.draw, len(calls))
        report = audit.verify(
            session=session, public_keys=[SIGNER.public_key], batch_size=batch_size
        )

        assert not report.ok, f"{what} was not found"
