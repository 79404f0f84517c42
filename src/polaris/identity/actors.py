"""Turning a signed-in user into the ``Actor`` that ``access`` decides on, and its audit context."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.access.policy import Action, Actor, Classification
from polaris.audit.context import AuditContext, hash_session_id
from polaris.identity.facts import unit_reach, user_groups
from polaris.identity.models import User


@dataclass(frozen=True)
class RequestInfo:
    """Where a request came from, for the audit record."""

    source_address: str | None = None
    client: str | None = None
    request_id: str | None = None


def _actions(names: list[str]) -> frozenset[Action]:
    return frozenset(Action(name) for name in names if name in Action._value2member_map_)


def actor_for(
    *,
    session: Session,
    user: User,
    auth_factors: str,
    session_id: str | None = None,
    token_scopes: frozenset[str] | None = None,
    stamp: int | None = None,
) -> Actor:
    """The actor of ``user``. ``stamp``: the identity stamp read with the caller's row in this
    transaction (``identity.facts``); with it, reach and groups come from the process's cache
    when they have not changed since, else from the database."""
    return actor_of(
        session=session,
        user_id=user.id,
        username=user.username,
        unit_id=user.unit_id,
        role_code=user.role_code,
        clearance=user.clearance,
        unit_actions=user.role.unit_actions,
        subtree_actions=user.role.subtree_actions,
        is_admin=user.role.is_admin,
        disabled=user.disabled_at is not None,
        must_change_password=user.must_change_password,
        writes_frozen=user.writes_frozen_at is not None,
        auth_factors=auth_factors,
        session_id=session_id,
        token_scopes=token_scopes,
        stamp=stamp,
    )


def actor_of(
    *,
    session: Session,
    user_id: int,
    username: str,
    unit_id: int,
    role_code: str,
    clearance: int,
    unit_actions: list[str],
    subtree_actions: list[str],
    is_admin: bool,
    disabled: bool,
    must_change_password: bool,
    writes_frozen: bool,
    auth_factors: str,
    session_id: str | None = None,
    token_scopes: frozenset[str] | None = None,
    stamp: int | None = None,
) -> Actor:
    """:func:`actor_for` from the user's and role's columns (an ORM ``User`` or a plain row of
    ``identity.callers``): one place that says what an actor is made of."""
    above, below = unit_reach(session, unit_id, stamp)
    groups = user_groups(session, user_id, stamp)
    return Actor(
        user_id=user_id,
        username=username,
        unit_id=unit_id,
        role_code=role_code,
        clearance=Classification(clearance),
        unit_actions=_actions(unit_actions),
        subtree_actions=_actions(subtree_actions),
        is_admin=is_admin,
        disabled=disabled,
        ancestor_unit_ids=above,
        descendant_unit_ids=below,
        group_ids=groups,
        token_scopes=token_scopes,
        auth_factors=auth_factors,
        session_hash=hash_session_id(session_id) if session_id else None,
        must_change_password=must_change_password,
        writes_frozen=writes_frozen,
    )


def user_context(
    user: User, request: RequestInfo, *, auth_factors: str, session_id: str | None = None
) -> AuditContext:
    """``session_id`` is the session row's id; the record gets a hash of it."""
    return AuditContext(
        actor_id=user.id,
        actor_name=user.username,
        actor_role=user.role_code,
        unit_id=user.unit_id,
        auth_factors=auth_factors,
        session_hash=hash_session_id(session_id) if session_id else None,
        source_address=request.source_address,
        client=request.client,
        request_id=request.request_id,
    )


def actor_context(actor: Actor, request: RequestInfo) -> AuditContext:
    return AuditContext(
        actor_id=actor.user_id,
        actor_name=actor.username,
        actor_role=actor.role_code,
        unit_id=actor.unit_id,
        auth_factors=actor.auth_factors,
        session_hash=actor.session_hash,
        source_address=request.source_address,
        client=request.client,
        request_id=request.request_id,
    )


def anonymous_context(request: RequestInfo) -> AuditContext:
    return AuditContext.anonymous(
        source_address=request.source_address, client=request.client, request_id=request.request_id
    )
