"""Retention rules and legal holds as the administrators' page shows them: what each applies to
by name (a space, a folder and its path, a level), who placed a hold; and the reverse, the space
an administrator names by a unit's code or a username. The decisions and their audit are
``drive.retention`` and ``drive.holds``, which the page calls with the administrator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.drive import repo, spaces
from polaris.drive._locate import locate
from polaris.drive.models import FOLDER, LegalHold, Node, RetentionRule, Space
from polaris.drive.spaces import SpaceDefaults
from polaris.identity.models import Unit, User


@dataclass(frozen=True)
class SpaceName:
    """A space as people know it: a unit's (its code and name) or an officer's (the username)."""

    id: int
    kind: str
    name: str
    code: str | None  # the unit's code, or the owner's username


@dataclass(frozen=True)
class RuleView:
    rule: RetentionRule
    space: SpaceName | None  # the rule's space, or the folder's
    folder_path: str | None  # "/Cases/2026" for a folder rule
    folder_gone: bool = False


@dataclass(frozen=True)
class HoldView:
    hold: LegalHold
    space: SpaceName | None
    path: str | None  # None when the node is gone (the record outlives it)
    is_folder: bool
    held_by: str | None  # a username; None for the command line


def _space_names(session: Session, spaces: Sequence[Space]) -> dict[int, SpaceName]:
    unit_ids = {s.unit_id for s in spaces if s.unit_id is not None}
    owner_ids = {s.owner_id for s in spaces if s.owner_id is not None}
    query = select(Unit.id, Unit.code).where(Unit.id.in_(unit_ids))
    codes = {row[0]: row[1] for row in session.execute(query)}
    names = _usernames(session, owner_ids)
    return {
        s.id: SpaceName(
            s.id,
            s.kind,
            s.name,
            codes.get(s.unit_id) if s.kind == "unit" and s.unit_id else names.get(s.owner_id or 0),
        )
        for s in spaces
    }


def _usernames(session: Session, user_ids: set[int]) -> dict[int, str]:
    query = select(User.id, User.username).where(User.id.in_(user_ids))
    return {row[0]: row[1] for row in session.execute(query)}


def rule_views(session: Session, rules: Sequence[RetentionRule]) -> list[RuleView]:
    located = {r.node_id: locate(session, r.node_id) for r in rules if r.node_id is not None}
    space_ids = {r.space_id for r in rules if r.space_id is not None}
    space_ids |= {found.space.id for found in located.values() if found is not None}
    spaces = _space_names(session, list(repo.spaces_by_id(session, space_ids).values()))
    views = []
    for rule in rules:
        if rule.node_id is not None:
            found = located[rule.node_id]
            views.append(
                RuleView(
                    rule,
                    spaces.get(found.space.id) if found else None,
                    found.display_path if found else None,
                    folder_gone=found is None,
                )
            )
        else:
            views.append(RuleView(rule, spaces.get(rule.space_id or 0), None))
    return views


def hold_views(session: Session, holds: Sequence[LegalHold]) -> list[HoldView]:
    located = {h.node_id: locate(session, h.node_id) for h in holds if h.node_id is not None}
    spaces = _space_names(
        session, list({found.space.id: found.space for found in located.values() if found}.values())
    )
    user_ids = {h.held_by for h in holds if h.held_by is not None}
    usernames = _usernames(session, user_ids)
    views = []
    for hold in holds:
        found = located.get(hold.node_id) if hold.node_id is not None else None
        views.append(
            HoldView(
                hold,
                spaces.get(found.space.id) if found else None,
                found.display_path if found else None,
                is_folder=found is not None and found.node.kind == FOLDER,
                held_by=usernames.get(hold.held_by or 0),
            )
        )
    return views


def space_named(session: Session, name: str, defaults: SpaceDefaults) -> Space | None:
    """The space of the unit with this code, else of the user with this username (made now if
    nobody has opened it yet, as a first visit would); None when neither exists."""
    name = name.strip()
    if not name:
        return None
    unit = session.scalar(select(Unit).where(Unit.code == name))
    if unit is not None:
        return spaces.ensure_unit_space(session, unit, defaults)
    user = session.scalar(select(User).where(User.username == name))
    return None if user is None else spaces.ensure_user_space(session, user, defaults)


def node_exists(session: Session, node_id: int) -> bool:
    return session.get(Node, node_id) is not None
