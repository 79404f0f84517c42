"""``callers_repo.prefetch_sessions``: the sessions of many tokens read with one statement give,
in the same transaction, the rows each lookup would have read alone (a missing one included),
without a statement of their own; anything else is read as before."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.clock import utcnow
from polaris.identity import callers_repo
from polaris.identity.liveness import ACTIVE_STAGE
from polaris.identity.models import UserSession
from polaris.identity.tokens import digest
from polaris.matrix.models import MatrixDevice
from tests.factories import build_tree, make_user
from tests.matrix.test_sync_shared import counted

_DEVICE = (
    select(MatrixDevice.device_id)
    .where(MatrixDevice.session_id == UserSession.id)
    .scalar_subquery()
)
ONE = callers_repo.plain_session_with(_DEVICE)
MANY = callers_repo.plain_sessions_with(_DEVICE)


def test_prefetched_sessions_are_read_once_and_match_each_lookup(db_session: Session) -> None:
    build_tree(db_session)
    owner = make_user(db_session, "ct.one")
    expires = utcnow() + dt.timedelta(hours=1)
    for token in ("t-1", "t-2"):
        db_session.add(
            UserSession(
                id=digest(token), user_id=owner.id, stage=ACTIVE_STAGE, auth_factors="password",
                expires_at=expires, source_address="127.0.0.1",
            )
        )  # fmt: skip
    db_session.commit()
    alone = {t: callers_repo.plain_session(db_session, digest(t), ONE) for t in ("t-1", "t-2")}
    db_session.commit()
    ids = [digest(t) for t in ("t-1", "t-2", "unknown")]
    with counted(db_session) as statements:
        callers_repo.prefetch_sessions(db_session, ids, MANY, ONE)
        found = {t: callers_repo.plain_session(db_session, digest(t), ONE) for t in ("t-1", "t-2")}
        missing = callers_repo.plain_session(db_session, digest("unknown"), ONE)
    assert len(statements) == 1  # the prefetch; every lookup after it from its rows
    assert found == alone and found["t-1"] is not None and missing is None
    with counted(db_session) as statements:  # not prefetched, or for another statement: read
        assert callers_repo.plain_session(db_session, digest("t-3"), ONE) is None
        assert callers_repo.plain_session(db_session, digest("t-1")) is not None
    assert len(statements) == 2
    db_session.rollback()
