"""Retention rules: how long the drive keeps old versions and the trash, and what they mean.

A rule applies to a space, to a folder's subtree, or to every node of one classification level
(its effective level), and says one or both of:

* ``keep_versions_years`` N: a version that is not its file's current one is kept for at least N
  years after it stopped being current (when the next version was made), and expired by the
  retention pass once those N years have passed. The current version is never expired.
* ``purge_trash_days`` D: a node deleted to the trash is kept there for at least D days after it
  was deleted, and purged (with its subtree) by the retention pass once they have passed.

Without any rule nothing expires: the drive keeps every version and the trash until an
administrator purges it. When several rules apply, **the longest keep wins** (a government records
rule: no rule can shorten what another one requires to be kept). For a purge, every rule that
applies to anything the purge would remove counts: the space's, the folders' above and inside the
deleted subtree, and the levels found in it. A legal hold (``polaris.drive.holds``) overrides
every rule: nothing held expires or is purged.

A fourth kind of rule names a kind of messenger room (``room_kind``) and says
``keep_messages_days`` D: its messages are kept D days after they were sent, then their text is
removed by the messenger's retention pass (``polaris.chat.retention``, which validates the kind
and applies holds on rooms and users). Drive stores these rules with its own and ignores them.

Administrators manage rules (API, ``polaris retention``); every change is audited. A year is a
calendar year (29 February counts back to 28 February); a day is 24 hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access.policy import Actor, Classification
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import repo, retention_repo
from polaris.drive._locate import Located
from polaris.drive.events import actor_id, to_purge
from polaris.drive.models import FOLDER, Node, RetentionRule
from polaris.errors import NotFound, ValidationFailed

MAX_YEARS = 100
MAX_DAYS = 36500


@dataclass(frozen=True)
class Target:
    """What a rule applies to: exactly one of the four."""

    space_id: int | None = None
    node_id: int | None = None
    classification: int | None = None
    #: A kind of messenger room (``polaris.chat.retention`` checks the name).
    room_kind: str | None = None

    def __post_init__(self) -> None:
        given = [
            v
            for v in (self.space_id, self.node_id, self.classification, self.room_kind)
            if v is not None
        ]
        if len(given) != 1:
            raise ValidationFailed(
                "a rule applies to exactly one space, folder, classification or kind of room",
                code="retention_target",
            )


def years_before(moment: dt.datetime, years: int) -> dt.datetime:
    """The same date and time ``years`` calendar years earlier (29 February → 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def _require(session: Session, actor: Actor | None, context: AuditContext, operation: str) -> None:
    """Administrators only; ``actor`` None is the command line, run by the instance's operator."""
    if actor is not None:
        gate.require_admin(session=session, actor=actor, operation=operation, context=context)


def _check_duration(value: int | None, most: int, what: str) -> None:
    if value is not None and not 1 <= value <= most:
        raise ValidationFailed(f"{what} must be between 1 and {most}", code="retention_duration")


def _check_target(session: Session, target: Target) -> None:
    if target.space_id is not None and repo.get_space(session, target.space_id) is None:
        raise NotFound("space not found")
    if target.node_id is not None:
        node = session.get(Node, target.node_id)
        if node is None:
            raise NotFound("node not found")
        if node.kind != FOLDER:
            raise ValidationFailed("a rule applies to a folder, not a file", code="not_a_folder")
    if target.classification is not None and target.classification not in set(Classification):
        raise ValidationFailed("no such classification level", code="retention_target")


def rule_detail(rule: RetentionRule) -> dict[str, int | str | None]:
    if rule.room_kind is not None:
        return {"room_kind": rule.room_kind, "keep_messages_days": rule.keep_messages_days}
    return {
        "space_id": rule.space_id,
        "node_id": rule.node_id,
        "classification": rule.classification,
        "keep_versions_years": rule.keep_versions_years,
        "purge_trash_days": rule.purge_trash_days,
    }


def _check_durations(
    target: Target,
    keep_versions_years: int | None,
    purge_trash_days: int | None,
    keep_messages_days: int | None,
) -> None:
    if target.room_kind is not None:
        if keep_versions_years is not None or purge_trash_days is not None:
            raise ValidationFailed(
                "a kind of room keeps messages, not versions or a trash",
                code="retention_duration",
            )
        if keep_messages_days is None:
            raise ValidationFailed("say how many days to keep messages", code="retention_duration")
        _check_duration(keep_messages_days, MAX_DAYS, "keep_messages_days")
        return
    if keep_messages_days is not None:
        raise ValidationFailed("only a kind of room keeps messages", code="retention_duration")
    if keep_versions_years is None and purge_trash_days is None:
        raise ValidationFailed(
            "say how long to keep versions, the trash, or both", code="retention_duration"
        )
    _check_duration(keep_versions_years, MAX_YEARS, "keep_versions_years")
    _check_duration(purge_trash_days, MAX_DAYS, "purge_trash_days")


def set_rule(
    *,
    session: Session,
    actor: Actor | None,
    context: AuditContext,
    target: Target,
    keep_versions_years: int | None,
    purge_trash_days: int | None,
    keep_messages_days: int | None = None,
) -> RetentionRule:
    """Create the rule of ``target``, or change it: one rule per space, folder, level and kind
    of room."""
    _require(session, actor, context, "retention.rule_set")
    _check_durations(target, keep_versions_years, purge_trash_days, keep_messages_days)
    _check_target(session, target)
    rule = retention_repo.rule_for_target(
        session,
        space_id=target.space_id,
        node_id=target.node_id,
        classification=target.classification,
        room_kind=target.room_kind,
    )
    now = utcnow()
    if rule is None:
        rule = RetentionRule(
            space_id=target.space_id,
            node_id=target.node_id,
            classification=target.classification,
            room_kind=target.room_kind,
            created_by=actor_id(actor),
            created_at=now,
        )
        session.add(rule)
    rule.keep_versions_years = keep_versions_years
    rule.purge_trash_days = purge_trash_days
    rule.keep_messages_days = keep_messages_days
    rule.updated_at = now
    session.flush()
    _audit(session, context, "retention.rule_set", rule)
    return rule


def delete_rule(
    *, session: Session, actor: Actor | None, context: AuditContext, rule_id: int
) -> None:
    _require(session, actor, context, "retention.rule_delete")
    rule = session.get(RetentionRule, rule_id)
    if rule is None:
        raise NotFound("no such retention rule", code="rule_not_found")
    _audit(session, context, "retention.rule_delete", rule)
    session.delete(rule)
    session.flush()


def get_rule(
    *, session: Session, actor: Actor | None, context: AuditContext, rule_id: int
) -> RetentionRule:
    _require(session, actor, context, "retention.rules")
    rule = session.get(RetentionRule, rule_id)
    if rule is None:
        raise NotFound("no such retention rule", code="rule_not_found")
    return rule


def target_of(rule: RetentionRule) -> Target:
    return Target(
        space_id=rule.space_id,
        node_id=rule.node_id,
        classification=rule.classification,
        room_kind=rule.room_kind,
    )


def list_rules(
    *, session: Session, actor: Actor | None, context: AuditContext
) -> list[RetentionRule]:
    _require(session, actor, context, "retention.rules")
    return retention_repo.rules(session, rooms=False)


def list_room_rules(
    *, session: Session, actor: Actor | None, context: AuditContext
) -> list[RetentionRule]:
    """The rules of kinds of messenger room (``list_rules`` has the drive's)."""
    _require(session, actor, context, "retention.rules")
    return retention_repo.rules(session, rooms=True)


def _audit(session: Session, context: AuditContext, action: str, rule: RetentionRule) -> None:
    audit.append(
        session=session,
        context=context,
        action=action,
        object_type="retention_rule",
        object_id=rule.id,
        detail=rule_detail(rule),
    )


def _longest(values: Iterable[int | None]) -> int | None:
    return max((v for v in values if v is not None), default=None)


def version_keep_years(session: Session, located: Located) -> int | None:
    """How many years the old versions of this file are kept (None: for ever)."""
    found = retention_repo.rules_applying(
        session,
        space_id=located.space.id,
        node_ids=repo.path_ids(located.node.path),
        levels=[int(located.classification)],
    )
    return _longest(rule.keep_versions_years for rule in found)


def trash_keep_days(session: Session, located: Located, subtree: list[Node]) -> int | None:
    """How many days this trashed node (and ``subtree``, everything a purge would remove) stays
    in the trash (None: until an administrator purges it)."""
    levels = [purged.level for purged in to_purge(located, subtree, {})]
    node_ids = repo.path_ids(located.node.path) + [node.id for node in subtree]
    found = retention_repo.rules_applying(
        session, space_id=located.space.id, node_ids=node_ids, levels=levels
    )
    return _longest(rule.purge_trash_days for rule in found)
