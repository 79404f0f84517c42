"""Notifications of shares: "HC Sharma shared Seizure list with you".

The consumer ``notifications.shares`` follows ``share.granted``: it writes a notification for each
person the share reaches (the user; every enabled officer of the unit, and of the units below when
the share includes them; every member of the group), cleared for the node's level, but not the
person who shared. ``share.revoked`` takes back those not read yet. It starts at the head of the
stream (``start="now"``): a new installation does not tell everyone of every old share.

Shown, a notification names who shared and what, and leads to the folder or the file's page; one
whose node the reader may no longer read (revoked, trashed, reclassified) is not shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from polaris import events
from polaris.access.policy import Actor
from polaris.clock import utcnow
from polaris.drive import shares as drive_shares
from polaris.drive import shares_repo
from polaris.drive.events import SHARE_GRANTED, SHARE_REVOKED
from polaris.drive.models import FOLDER, Share
from polaris.identity.models import GroupMember, UnitClosure, User
from polaris.identity.suggest import person_label
from polaris.notifications import repo
from polaris.notifications.kinds import Shown, presenter
from polaris.notifications.models import Notification
from polaris.web.messages import N_

KIND = "share.granted"
SHARED_WITH_YOU = N_("%(who)s shared %(name)s with you")


def recipients(share: Share) -> ColumnElement[bool]:
    """The users a share reaches, as a WHERE clause on ``User``."""
    if share.subject_type == "user":
        return User.id == share.subject_id
    if share.subject_type == "unit":
        if share.include_subunits:
            below = select(UnitClosure.descendant_id).where(
                UnitClosure.ancestor_id == share.subject_id
            )
            return or_(User.unit_id == share.subject_id, User.unit_id.in_(below))
        return User.unit_id == share.subject_id
    if share.subject_type == "group":
        members = select(GroupMember.user_id).where(GroupMember.group_id == share.subject_id)
        return User.id.in_(members)
    return false()


@events.consumer("notifications.shares", kinds=[SHARE_GRANTED, SHARE_REVOKED], start="now")
def follow_shares(session: Session, batch: Sequence[events.Event]) -> None:
    granted = [event for event in batch if event.kind == SHARE_GRANTED]
    found = shares_repo.shares_by_id(session, [event.subject_id for event in granted])
    now = utcnow()
    for event in granted:
        share = found.get(event.subject_id)
        if share is None or share.revoked_at is not None:
            continue  # revoked (or gone) before anyone was told: nothing to tell
        if share.expires_at is not None and share.expires_at <= now:
            continue
        level = event.data.get("level", 0)
        repo.add_for_users(
            session,
            recipients(share),
            kind=KIND,
            subject=("node", share.node_id),
            source_id=share.id,
            actor_id=event.actor_id,
            min_clearance=level if isinstance(level, int) else 0,
            now=event.created_at,
        )
    revoked = [event.subject_id for event in batch if event.kind == SHARE_REVOKED]
    repo.drop_unread(session, kind=KIND, source_ids=revoked)


@presenter(KIND)
def present_shares(
    session: Session, actor: Actor, rows: Sequence[Notification]
) -> dict[int, Shown]:
    """The rows whose node the reader may read now, in a few queries for the whole page."""
    nodes = drive_shares.readable_nodes(
        session=session, actor=actor, node_ids=[row.subject_id for row in rows]
    )
    sharers = {
        user.id: user
        for user in session.scalars(
            select(User).where(
                User.id.in_(sorted({row.actor_id for row in rows if row.actor_id is not None}))
            )
        )
    }
    shown: dict[int, Shown] = {}
    for row in rows:
        located = nodes.get(row.subject_id)
        if located is None:
            continue
        sharer = sharers.get(row.actor_id or 0)
        node = located.node
        shown[row.id] = Shown(
            id=row.id,
            kind=row.kind,
            message=SHARED_WITH_YOU,
            values={"who": person_label(sharer) if sharer else "?", "name": node.name},
            url=f"/drive/{node.id}" if node.kind == FOLDER else f"/drive/file/{node.id}",
            created_at=row.created_at,
            read=row.read_at is not None,
        )
    return shown
