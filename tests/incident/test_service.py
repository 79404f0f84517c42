from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from polaris.audit.models import AuditRecord
from polaris.errors import Conflict, ValidationFailed
from polaris.incident import service as incident
from tests.factories import SYSTEM


def test_on_and_off_are_audited_and_the_newest_record_is_the_state(db_session: Session) -> None:
    assert incident.current(session=db_session) is None
    state = incident.turn_on(
        session=db_session, actor=None, context=SYSTEM, reason="  ransomware  on PS-A1 "
    )
    assert state.reason == "ransomware on PS-A1"
    assert state.since_ist.endswith("+05:30")
    now = incident.current(session=db_session)
    assert now is not None and now.reason == "ransomware on PS-A1" and now.by == "test"
    with pytest.raises(Conflict):
        incident.turn_on(session=db_session, actor=None, context=SYSTEM, reason="again")
    ended = incident.turn_off(session=db_session, actor=None, context=SYSTEM)
    assert ended.since == now.since
    assert incident.current(session=db_session) is None
    with pytest.raises(Conflict):
        incident.turn_off(session=db_session, actor=None, context=SYSTEM)
    actions = db_session.scalars(
        select(AuditRecord.action).where(AuditRecord.action.like("incident.%"))
    ).all()
    assert sorted(actions) == ["incident.off", "incident.on"]


def test_a_reason_is_required(db_session: Session) -> None:
    with pytest.raises(ValidationFailed):
        incident.turn_on(session=db_session, actor=None, context=SYSTEM, reason="   ")


def test_the_cache_reads_once_per_ttl_and_invalidate_reads_again(db_session: Session) -> None:
    reads = sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint")
    cached = incident.CachedState(reads, ttl=3600)
    assert cached.get() is None and cached.fresh()
    incident.turn_on(session=db_session, actor=None, context=SYSTEM, reason="drill")
    db_session.flush()
    assert cached.get() is None  # still the cached read
    cached.invalidate()
    state = cached.get()
    assert state is not None and state.reason == "drill"
    always = incident.CachedState(reads, ttl=0)
    assert always.get() is not None and not always.fresh()
    assert isinstance(state.since, dt.datetime)


def test_a_stale_value_is_lent_to_reads_and_one_caller_at_a_time_refreshes_it(
    db_session: Session,
) -> None:
    reads = sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint")
    stale = incident.CachedState(reads, ttl=0)
    assert stale.last() == (False, None, False)  # never read: the caller must read it
    assert stale.get() is None
    incident.turn_on(session=db_session, actor=None, context=SYSTEM, reason="drill")
    db_session.flush()
    assert stale.last() == (True, None, True)  # the last value; this caller refreshes
    assert stale.last() == (True, None, False)  # the others do not, while it does
    stale.get()
    read, state, chosen = stale.last()
    assert read and state is not None and state.reason == "drill" and chosen
    stale.get()
    fresh = incident.CachedState(reads, ttl=3600)
    fresh.get()
    assert fresh.last()[2] is False  # fresh: nobody refreshes
