"""A node's classification set from a form or the API: the levels a form may offer, and the
change itself (decided through ``access``, audited, stamps renewed at every level it touches,
``node.classified`` appended).

Raising a node's own level needs ``classify``; lowering it below its own level needs
``declassify``, which ``access.policy`` grants only to heads of units over what they reach and to
administrators (only the originating authority or a higher one downgrades)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import events, repo
from polaris.drive._locate import Located, locate, require_node
from polaris.drive.preconditions import check_if_match
from polaris.drive.service import audit_node, check_classification, relocate


def classification_choices(actor: Actor, located: Located) -> list[Classification]:
    """The levels a form may offer for ``located``: from the level it inherits from its folders
    (lower would change nothing: the effective level is the highest on the path) up to the
    actor's clearance (``check_classification``); below its own level only with ``declassify``,
    above it only with ``classify``. None when the actor may do neither."""
    resource = located.resource()
    may_raise = access.can(actor, Action.CLASSIFY, resource)
    may_lower = access.can(actor, Action.DECLASSIFY, resource)
    if not (may_raise or may_lower):
        return []
    own = located.node.classification
    inherited = max((node.classification for node in located.chain[:-1]), default=0)
    return [
        level
        for level in Classification
        if inherited <= level <= actor.clearance
        and (level == own or (may_raise if level > own else may_lower))
    ]


def needed_action(own: int, classification: Classification) -> Action:
    """``declassify`` to go below the node's own level, ``classify`` otherwise."""
    return Action.DECLASSIFY if classification < own else Action.CLASSIFY


def set_classification(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    classification: Classification,
    if_match: str | None = None,
) -> Located:
    # Which right the change needs depends on the node's own level, read before the decision; a
    # node the actor may not see is refused the same either way (``require_node``).
    found = locate(session, node_id)
    action = needed_action(found.node.classification if found else 0, classification)
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=action
    )
    check_if_match(located, if_match, actor.clearance)
    check_classification(actor, int(classification))
    before = located.node.classification
    before_level = int(located.classification)  # effective, before the change
    located.node.classification = int(classification)
    session.flush()
    changed = relocate(session, node_id)
    # Who sees the node, and what is below it, changes for every level from the lower of the two
    # effective levels up: their stamps are renewed, below the node as well.
    level = min(before_level, int(changed.classification))
    now = utcnow()
    repo.touch(session, repo.path_ids(located.node.path), level=level, now=now)
    repo.touch_subtree(session, located.node, level=level, now=now)
    changed = relocate(session, node_id)
    audit_node(
        session,
        context,
        "node.classify",
        changed,
        detail={"from": Classification(before).name.lower(), "to": classification.name.lower()},
    )
    # The effective level below may change too: whoever follows it takes the subtree.
    events.node_changed(
        session, events.NODE_CLASSIFIED, changed, actor=actor, from_level=before_level
    )
    return changed
