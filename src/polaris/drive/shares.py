"""Shares: give a user, a unit (optionally with the units below it) or a group access to a node.

There are no anonymous links. A share takes effect on the next request and ends at its expiry or
when revoked; clearance still applies (``access`` checks it before any share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Permission
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import events, scanning, shares_repo
from polaris.drive._locate import NO_ID, Located, locate, locate_many, require_node
from polaris.drive.models import FileVersion, Share
from polaris.drive.service import audit_node
from polaris.errors import NotFound, ValidationFailed
from polaris.identity.models import Unit, User, UserGroup
from polaris.identity.suggest import person_label

SUBJECT_TYPES = ("user", "unit", "group")
SHARE_KIND = "share"


@dataclass(frozen=True)
class SharedNode:
    share: Share
    located: Located


def create_share(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    subject_type: str,
    subject_id: int,
    permission: Permission,
    include_subunits: bool = False,
    expires_at: dt.datetime | None = None,
) -> Share:
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.SHARE
    )
    current = located.node.current_version_id
    version = session.get(FileVersion, current) if current is not None else None
    if version is not None:  # a file's content under scan is shared only once it may be served
        scanning.require_scanned(
            session=session,
            actor=actor,
            context=context,
            located=located,
            version=version,
            action=Action.SHARE,
        )
    _check_subject(session, actor, subject_type, subject_id)
    if include_subunits and subject_type != "unit":
        raise ValidationFailed("only a unit share can include the units below", code="bad_share")
    now = utcnow()
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed("the expiry is in the past", code="expiry_in_past")
    share = Share(
        node_id=node_id,
        subject_type=subject_type,
        subject_id=subject_id,
        permission=permission.value,
        include_subunits=include_subunits,
        expires_at=expires_at,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(share)
    session.flush()
    audit_node(
        session,
        context,
        "share.create",
        located,
        detail={
            "share_id": share.id,
            "subject": f"{subject_type}:{subject_id}",
            "permission": permission.value,
            "include_subunits": include_subunits,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    events.share_changed(session, events.SHARE_GRANTED, share, located, actor=actor)
    return share


def _check_subject(session: Session, actor: Actor, subject_type: str, subject_id: int) -> None:
    """The subject exists, and a group is one the actor may see (else it answers as missing)."""
    model = {"user": User, "unit": Unit, "group": UserGroup}.get(subject_type)
    if model is None:
        raise ValidationFailed(f"share with one of {', '.join(SUBJECT_TYPES)}", code="bad_share")
    subject = session.get(model, subject_id)
    hidden = isinstance(subject, UserGroup) and not access.can_see_group(
        actor, group_id=subject.id, unit_id=subject.unit_id
    )
    if subject is None or hidden:
        raise NotFound(f"{subject_type} not found", code="share_subject_not_found")


def list_node_shares(
    *, session: Session, actor: Actor, context: AuditContext, node_id: int
) -> list[Share]:
    """Unrevoked shares of the node itself (who has it, and until when): for those who may share."""
    require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.SHARE
    )
    return shares_repo.live_shares_of(session, node_id)


def revoke_share(*, session: Session, actor: Actor, context: AuditContext, share_id: int) -> None:
    """Its creator, or anyone who may share the node, may revoke a share.

    A share that does not exist (or is revoked already) is an audited denial like one on a node
    the actor may not see, after the same lookups: its id tells nothing by the answer or its time.
    """
    share = shares_repo.get_share(session, share_id)
    live = share is not None and share.revoked_at is None
    located = locate(session, share.node_id if share is not None and live else NO_ID)
    if share is None or not live or located is None:
        access.deny_missing(
            session=session,
            actor=actor,
            kind=SHARE_KIND,
            object_id=share_id,
            action=Action.SHARE,
            context=context,
        )
    if share.created_by != actor.user_id or actor.disabled:
        access.require(
            session=session,
            actor=actor,
            action=Action.SHARE,
            resource=replace(located.resource(), kind=SHARE_KIND, id=str(share_id)),
            context=context,
        )
    share.revoked_at = utcnow()
    session.flush()
    audit_node(session, context, "share.revoke", located, detail={"share_id": share.id})
    events.share_changed(session, events.SHARE_REVOKED, share, located, actor=actor)


def shared_with_me(*, session: Session, actor: Actor) -> list[SharedNode]:
    """Live, unexpired shares that reach the actor, on nodes the actor may read now."""
    shares = shares_repo.shares_reaching(
        session,
        user_id=actor.user_id,
        unit_id=actor.unit_id,
        ancestor_unit_ids=actor.ancestor_unit_ids,
        group_ids=actor.group_ids,
        now=utcnow(),
    )
    return _readable(session, actor, shares)


def sharers_of(*, session: Session, shares: Sequence[Share]) -> dict[int, str]:
    """Who made these shares, by user id, as "rank name" (one query for a page of shares)."""
    ids = sorted({share.created_by for share in shares if share.created_by is not None})
    if not ids:
        return {}
    return {
        user.id: person_label(user)
        for user in session.scalars(select(User).where(User.id.in_(ids)))
    }


def shared_by_me(*, session: Session, actor: Actor) -> list[SharedNode]:
    return _readable(session, actor, shares_repo.shares_created_by(session, actor.user_id))


def readable_nodes(
    *, session: Session, actor: Actor, node_ids: Sequence[int]
) -> dict[int, Located]:
    """The nodes among ``node_ids`` that the actor may read now (not in the trash), in a few
    queries however many (``access.can_each``): for lists that name nodes, such as notifications.
    Unknown, trashed and hidden nodes are all simply absent."""
    nodes = locate_many(session, node_ids)
    shown = [located for located in nodes.values() if not located.in_trash]
    allowed = access.can_each(actor, Action.READ, [located.resource() for located in shown])
    return {located.node.id: located for located, may in zip(shown, allowed, strict=True) if may}


def _readable(session: Session, actor: Actor, shares: Sequence[Share]) -> list[SharedNode]:
    """The shares whose node the actor may read now, in a few queries however many there are
    (every search asks: a lookup per share made the statements grow with them)."""
    nodes = locate_many(session, [share.node_id for share in shares])
    result = []
    for share in shares:
        located = nodes.get(share.node_id)
        if located is None or located.in_trash:
            continue
        if access.can(actor, Action.READ, located.resource()):
            result.append(SharedNode(share=share, located=located))
    return result
