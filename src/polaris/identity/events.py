"""Identity's change events, appended in the transaction of each change (``polaris.events``).

The kinds and their data are in ``docs/events.md``. Identity events belong to no space
(``space_id`` is None); their actor is the context's user, when a user acted.

Kinds without a producer yet (no code path changes these): ``group.changed``, ``group.deleted``.
A password or second-factor reset is not a change to the user that anyone follows, and appends
nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris import events
from polaris.audit.context import AuditContext

USER_CREATED = "user.created"
USER_CHANGED = "user.changed"
USER_DISABLED = "user.disabled"
USER_ENABLED = "user.enabled"
USER_MOVED = "user.moved"
UNIT_CREATED = "unit.created"
UNIT_CHANGED = "unit.changed"
UNIT_MOVED = "unit.moved"
GROUP_CREATED = "group.created"
GROUP_CHANGED = "group.changed"
GROUP_DELETED = "group.deleted"
GROUP_MEMBER_ADDED = "group.member_added"
GROUP_MEMBER_REMOVED = "group.member_removed"


def changed(
    session: Session,
    kind: str,
    subject: tuple[str, int],
    context: AuditContext,
    **data: int | None,
) -> None:
    actor = context.actor_id
    if isinstance(actor, str):
        actor = int(actor) if actor.isdigit() else None
    events.append(session, kind=kind, subject=subject, actor_id=actor, data=data)
