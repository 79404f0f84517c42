"""A node's classification set from a form or the API: the levels a form may offer, and the
change itself (decided through ``access``, audited, stamps renewed at every level it touches,
``node.classified`` appended)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import events, repo
from polaris.drive._locate import Located, require_node
from polaris.drive.service import audit_node, check_classification, relocate


def classification_choices(actor: Actor, located: Located) -> list[Classification]:
    """The levels a form may offer for ``located`` (none without the ``classify`` right): from the
    level it inherits from its folders (lower would change nothing: the effective level is the
    highest on the path) up to the actor's clearance (``check_classification``)."""
    if not access.can(actor, Action.CLASSIFY, located.resource()):
        return []
    inherited = max((node.classification for node in located.chain[:-1]), default=0)
    return [level for level in Classification if inherited <= level <= actor.clearance]


def set_classification(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    classification: Classification,
) -> Located:
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.CLASSIFY
    )
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
