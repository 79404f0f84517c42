"""The SQL that finds a request's caller, and the one write a refused caller causes.

A caller is an API token or a session row with its owner, read in one statement built once at
import (it runs on every request; compiled once, it is found in SQLAlchemy's statement cache):
as ORM objects with the identity stamp (``program_tokens.resolve_token``, ``auth``), or, for the
read routes, as a plain row of only the columns an ``Actor`` is made of (``identity.callers``).
Whether what was read may act is ``identity.liveness``'s rule, the same for both.

Functions take the session first and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from polaris.identity.facts import stamp_column
from polaris.identity.models import ApiToken, AppPassword, Role, User, UserSession

#: A column of a token or session row, as ``_plain`` takes it.
_Column = QueryableAttribute[Any] | ColumnElement[Any]

AnySelect = Select[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]


def _with_owner(entity: type[ApiToken] | type[UserSession]) -> AnySelect:
    """The row, its owner (with role and unit, as ``User`` loads them) and the identity stamp
    (``identity.facts``), as ORM objects."""
    return select(entity, User, stamp_column()).join(User, User.id == entity.user_id)


#: An API token by the hash of its secret, as ORM objects.
TOKEN_WITH_OWNER = _with_owner(ApiToken).where(ApiToken.token_hash == bindparam("token_hash"))

#: A session by its id (the hash of its token), as ORM objects; ``session_with`` adds a column.
SESSION_WITH_OWNER = _with_owner(UserSession).where(UserSession.id == bindparam("session_id"))

#: The columns of the owner and their role that an ``Actor`` is made of, and the identity stamp.
_OWNER_COLUMNS = (
    User.id.label("user_id"),
    User.username,
    User.unit_id,
    User.role_code,
    User.clearance,
    User.disabled_at,
    User.must_change_password,
    User.writes_frozen_at,
    Role.unit_actions,
    Role.subtree_actions,
    Role.is_admin,
    stamp_column().label("stamp"),
)


def _plain(*columns: _Column, owner: QueryableAttribute[int]) -> AnySelect:
    """``columns`` of a token or session row with its owner's :data:`_OWNER_COLUMNS`."""
    return (
        select(*columns, *_OWNER_COLUMNS)
        .join(User, User.id == owner)
        .join(Role, Role.code == User.role_code)
    )


_PLAIN_TOKEN = _plain(
    ApiToken.id.label("token_id"),
    ApiToken.scopes,
    ApiToken.expires_at,
    ApiToken.revoked_at,
    ApiToken.last_used_at,
    owner=ApiToken.user_id,
).where(ApiToken.token_hash == bindparam("token_hash"))

_SESSION_COLUMNS = _plain(
    UserSession.id.label("session_id"),
    UserSession.stage,
    UserSession.auth_factors,
    UserSession.expires_at,
    UserSession.last_seen_at,
    UserSession.ended_at,
    owner=UserSession.user_id,
)
_PLAIN_SESSION = _SESSION_COLUMNS.where(UserSession.id == bindparam("session_id"))

#: ``Session.info``'s key for the rows :func:`prefetch_sessions` read, by the statement they
#: stand for.
_PREFETCHED = "polaris.callers.prefetched_sessions"


_PLAIN_APP_PASSWORD = _plain(
    AppPassword.id.label("password_id"),
    AppPassword.scope,
    AppPassword.last_used_at,
    AppPassword.revoked_at,
    owner=AppPassword.user_id,
).where(AppPassword.secret_hash == bindparam("secret_hash"))


def plain_app_password(session: Session, secret_hash: str) -> AnyRow | None:
    """The app password's scope, liveness and last use and its owner's actor columns, or None."""
    return session.connection().execute(_PLAIN_APP_PASSWORD, {"secret_hash": secret_hash}).first()


def plain_session_with(also: ColumnElement[Any]) -> AnySelect:
    """:data:`_PLAIN_SESSION` with one more column, labelled ``extra`` (build it once, at
    import): a fact about the session read in the same statement (the Matrix device)."""
    return _PLAIN_SESSION.add_columns(also.label("extra"))


def plain_sessions_with(also: ColumnElement[Any]) -> AnySelect:
    """:func:`plain_session_with` for many sessions at once (``session_ids``, expanding): the
    statement :func:`prefetch_sessions` runs."""
    return _SESSION_COLUMNS.add_columns(also.label("extra")).where(
        UserSession.id.in_(bindparam("session_ids", expanding=True))
    )


def prefetch_sessions(
    session: Session, session_ids: Collection[str], many: AnySelect, one: AnySelect
) -> None:
    """Read the rows of ``session_ids`` with one statement (``many``, from
    :func:`plain_sessions_with`) for the lookups that would each run ``one`` (its
    :func:`plain_session_with` twin) later in this session's transaction: the same snapshot, so
    the same rows, a missing one included. The caller must end the session with the
    transaction (a later transaction must read afresh)."""
    wanted = sorted(set(session_ids))
    if not wanted:
        return
    rows = session.connection().execute(many, {"session_ids": wanted}).all()
    found = {row.session_id: row for row in rows}
    known = session.info.setdefault(_PREFETCHED, {}).setdefault(one, {})
    known.update({session_id: found.get(session_id) for session_id in wanted})


def session_with(also: ColumnElement[Any]) -> AnySelect:
    """:data:`SESSION_WITH_OWNER` with one more column read in it (build it once, at import)."""
    return SESSION_WITH_OWNER.add_columns(also)


def token_with_owner(session: Session, token_hash: str) -> AnyRow | None:
    """``(ApiToken, User, stamp)`` of the token, or None."""
    return session.execute(TOKEN_WITH_OWNER, {"token_hash": token_hash}).one_or_none()


def session_with_owner(
    session: Session, session_id: str, statement: AnySelect = SESSION_WITH_OWNER
) -> AnyRow | None:
    """``(UserSession, User, stamp)`` of the session, and the column ``statement`` adds if it is
    one made by :func:`session_with`; or None."""
    return session.execute(statement, {"session_id": session_id}).one_or_none()


def plain_token(session: Session, token_hash: str) -> AnyRow | None:
    """The token's liveness and last-used columns and its owner's actor columns, or None."""
    return session.connection().execute(_PLAIN_TOKEN, {"token_hash": token_hash}).first()


def plain_session(
    session: Session, session_id: str, statement: AnySelect | None = None
) -> AnyRow | None:
    """The session's liveness and last-seen columns and its owner's actor columns (and the
    ``extra`` of a ``statement`` made by :func:`plain_session_with`), or None."""
    chosen = _PLAIN_SESSION if statement is None else statement
    known = session.info.get(_PREFETCHED, {}).get(chosen)
    if known is not None and session_id in known:
        row: AnyRow | None = known[session_id]
        return row
    return session.connection().execute(chosen, {"session_id": session_id}).first()


def end_session(
    session: Session, *, session_id: str, reason: str, at: dt.datetime, last_seen_at: dt.datetime
) -> None:
    """Record a session ended at ``at`` for ``reason``, unless it already is or was used after
    ``last_seen_at`` (when it was found over): one ``UPDATE``, in the caller's write
    transaction."""
    session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.ended_at.is_(None),
            UserSession.last_seen_at <= last_seen_at,
        )
        .values(ended_at=at, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
