"""Spaces: every unit and every user has one, made on first use (``ensure_*``).

A personal space belongs to its owner alone (and whoever they share with); supervisory reach covers
unit spaces, not colleagues' personal spaces. A unit's space is reached by the unit's members as
their role allows, and by supervisors above the unit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification, Resource
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.config import Settings
from polaris.drive import _plain, repo, stamps
from polaris.drive._locate import NO_ID, resource_for
from polaris.drive.fields import SpaceFields
from polaris.drive.models import FOLDER, Node, Space
from polaris.errors import NotFound, ValidationFailed
from polaris.identity.models import Unit, User


@dataclass(frozen=True)
class SpaceDefaults:
    """The quotas a new space starts with."""

    user_quota_bytes: int | None = None
    unit_quota_bytes: int | None = None


def space_defaults(settings: Settings) -> SpaceDefaults:
    """The instance's defaults for new spaces (``[drive]`` in the settings), for every caller:
    the drive's routes and pages, search, ``polaris import``."""
    drive = settings.drive
    return SpaceDefaults(
        user_quota_bytes=drive.user_quota_bytes, unit_quota_bytes=drive.unit_quota_bytes
    )


def _create(session: Session, space: Space) -> Space:
    """Insert a space and its root folder in a savepoint; a concurrent twin raises the
    database's IntegrityError, which the ``ensure_*`` callers answer by reading the twin."""
    with session.begin_nested():
        session.add(space)
        session.flush()
        now = utcnow()
        root = Node(
            space_id=space.id,
            parent_id=None,
            path="",
            kind=FOLDER,
            name=space.name,
            sort_name=space.name.casefold(),
            classification=space.classification,
            size=0,
            created_at=now,
            **stamps.renewed(0, repo.new_etag(), now),
        )
        session.add(root)
        session.flush()
        root.path = f"/{root.id}/"
        space.root_id = root.id
        session.flush()
    return space


def ensure_user_space(session: Session, user: User, defaults: SpaceDefaults) -> Space:
    space = repo.user_space(session, user.id)
    if space is not None:
        return space
    try:
        return _create(
            session,
            Space(
                kind="user",
                name=user.username,
                owner_id=user.id,
                unit_id=None,
                classification=0,
                quota_bytes=defaults.user_quota_bytes,
                used_bytes=0,
            ),
        )
    except DbIntegrityError:
        space = repo.user_space(session, user.id)
        assert space is not None
        return space


def ensure_unit_space(session: Session, unit: Unit, defaults: SpaceDefaults) -> Space:
    found = repo.unit_spaces(session, [unit.id])
    if found:
        return found[0]
    try:
        return _create(
            session,
            Space(
                kind="unit",
                name=unit.name,
                unit_id=unit.id,
                owner_id=None,
                classification=0,
                quota_bytes=defaults.unit_quota_bytes,
                used_bytes=0,
            ),
        )
    except DbIntegrityError:
        return repo.unit_spaces(session, [unit.id])[0]


def visible_spaces(*, session: Session, actor: Actor, defaults: SpaceDefaults) -> list[Space]:
    """The actor's own space, their unit's, and those of the units within their reach; spaces
    never used before are made now, with ``defaults`` (a write transaction)."""
    found = _visible(session, actor, defaults)
    assert found is not None
    return found


def existing_visible_spaces(*, session: Session, actor: Actor) -> list[Space] | None:
    """:func:`visible_spaces` that only reads (a read-only transaction): None when one of the
    spaces is still to be made, for the caller to call :func:`visible_spaces` in a write one."""
    return _visible(session, actor, None)


def existing_visible_space_rows(*, session: Session, actor: Actor) -> list[SpaceFields] | None:
    """:func:`existing_visible_spaces` as plain rows (``drive._plain``, one Core statement, no
    ORM objects): for WebDAV, which reads the caller's spaces at every request."""
    return _plain.visible_spaces(session, actor)


def _visible(session: Session, actor: Actor, defaults: SpaceDefaults | None) -> list[Space] | None:
    user = session.get(User, actor.user_id)
    if user is None or actor.disabled:
        return []
    unit_ids = [actor.unit_id]
    if Action.READ in actor.subtree_actions:
        unit_ids += sorted(actor.descendant_unit_ids)
    # One query whatever the reach (HQ reaches ~1,050 units): the spaces that exist, with their
    # roots; only spaces never used before are made, one by one, then read again.
    found = repo.spaces_with_roots(session, owner_id=user.id, unit_ids=unit_ids)
    own = [space for space, _ in found if space.kind == "user"]
    existing = {space.unit_id for space, _ in found if space.kind == "unit"}
    missing = [unit_id for unit_id in unit_ids if unit_id not in existing]
    if not own or missing:
        if defaults is None:
            return None
        ensure_user_space(session, user, defaults)
        for unit in repo.units_by_id(session, missing).values():
            ensure_unit_space(session, unit, defaults)
        found = repo.spaces_with_roots(session, owner_id=user.id, unit_ids=unit_ids)
    order = {unit_id: index for index, unit_id in enumerate(unit_ids, start=1)}
    ranked = sorted(found, key=lambda row: order.get(row[0].unit_id or 0, 0))  # own space first
    return [space for space, root in ranked if _can_read_root(actor, space, root)]


def _can_read_root(actor: Actor, space: Space, root: Node | None) -> bool:
    if root is None:
        return False
    resource = resource_for(space, root, Classification(root.classification), ())
    return access.can(actor, Action.READ, resource)


SPACE_KIND = "space"


def get_space(
    *, session: Session, actor: Actor, space_id: int, context: AuditContext | None = None
) -> Space:
    """A space whose root the actor may read; NotFound otherwise.

    A space that does not exist and one the actor may not see take the same two queries and, with
    a ``context`` (every request has one), leave the same audited denial. Without one (the
    ``import`` command resolving ``--space``), a refusal is not audited.
    """
    space = repo.get_space(session, space_id)
    root = repo.get_node(session, space.root_id if space and space.root_id else NO_ID)
    if context is None:
        if space is None or not _can_read_root(actor, space, root):
            raise NotFound("space not found")
        return space
    if space is None or root is None:
        access.deny_missing(
            session=session,
            actor=actor,
            kind=SPACE_KIND,
            object_id=space_id,
            action=Action.READ,
            context=context,
        )
    resource = resource_for(space, root, Classification(root.classification), ())
    access.require(
        session=session,
        actor=actor,
        action=Action.READ,
        resource=replace(resource, kind=SPACE_KIND, id=str(space.id)),
        context=context,
    )
    return space


def usage_visible(actor: Actor, space: SpaceFields) -> bool:
    """Whether ``actor`` may see the space's quota figures (``quota_bytes``, ``used_bytes``):
    only those who may see the whole space (``access.policy.decide_usage`` says why)."""
    whole = Resource(
        kind=SPACE_KIND,
        id=str(space.id),
        unit_id=space.unit_id,
        owner_id=space.owner_id,
        classification=max(Classification),
    )
    return access.can_see_usage(actor, whole)


def set_quota(
    *, session: Session, space_id: int, quota_bytes: int | None, context: AuditContext
) -> Space:
    """Set a space's quota (administrators; the caller checks). ``None`` means no limit."""
    if quota_bytes is not None and quota_bytes < 0:
        raise ValidationFailed("a quota cannot be negative")
    space = repo.get_space(session, space_id)
    if space is None:
        raise NotFound("space not found")
    space.quota_bytes = quota_bytes
    session.flush()
    audit.append(
        session=session,
        context=context,
        action="space.set_quota",
        object_type="space",
        object_id=space.id,
        detail={"quota_bytes": quota_bytes},
    )
    return space


def root_node(session: Session, space: Space) -> Node:
    assert space.root_id is not None
    root = repo.get_node(session, space.root_id)
    assert root is not None
    return root
