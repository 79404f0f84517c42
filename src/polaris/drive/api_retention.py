"""JSON routes of retention rules and legal holds (administrators; ``drive.retention``,
``drive.holds``). Thin: one service call in a transaction each."""

from __future__ import annotations

from fastapi import APIRouter, Response

from polaris.db.uow import transaction
from polaris.deps import AdminCaller, DbSession
from polaris.drive import holds, retention
from polaris.drive.retention_schemas import HoldChange, HoldRead, RuleRead, RuleSet
from polaris.web.params import Id

router = APIRouter(tags=["retention"])


@router.get("/admin/retention/rules", response_model=list[RuleRead])
def list_rules(caller: AdminCaller, session: DbSession) -> list[RuleRead]:
    with transaction(session):
        found = retention.list_rules(session=session, actor=caller.actor, context=caller.context)
        return [RuleRead.of(rule) for rule in found]


@router.put("/admin/retention/rules", response_model=RuleRead)
def set_rule(body: RuleSet, caller: AdminCaller, session: DbSession) -> RuleRead:
    """Create or change the rule of a space, a folder (its subtree) or a classification level."""
    with transaction(session):
        rule = retention.set_rule(
            session=session,
            actor=caller.actor,
            context=caller.context,
            target=retention.Target(
                space_id=body.space_id, node_id=body.folder_id, classification=body.level()
            ),
            keep_versions_years=body.keep_versions_years,
            purge_trash_days=body.purge_trash_days,
        )
        return RuleRead.of(rule)


@router.delete("/admin/retention/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: Id, caller: AdminCaller, session: DbSession) -> Response:
    with transaction(session):
        retention.delete_rule(
            session=session, actor=caller.actor, context=caller.context, rule_id=rule_id
        )
    return Response(status_code=204)


@router.get("/admin/holds", response_model=list[HoldRead])
def list_holds(caller: AdminCaller, session: DbSession) -> list[HoldRead]:
    """The legal holds in force."""
    with transaction(session):
        found = holds.list_holds(session=session, actor=caller.actor, context=caller.context)
        return [HoldRead.of(hold) for hold in found]


@router.post("/admin/nodes/{node_id}/hold", response_model=HoldRead, status_code=201)
def place_hold(node_id: Id, body: HoldChange, caller: AdminCaller, session: DbSession) -> HoldRead:
    """Put a node and its subtree under a legal hold: no purge, no version expiry."""
    with transaction(session):
        hold = holds.place_hold(
            session=session,
            actor=caller.actor,
            context=caller.context,
            node_id=node_id,
            reason=body.reason,
        )
        return HoldRead.of(hold)


@router.post("/admin/nodes/{node_id}/release", response_model=HoldRead)
def release_hold(
    node_id: Id, body: HoldChange, caller: AdminCaller, session: DbSession
) -> HoldRead:
    """Lift the legal hold on a node."""
    with transaction(session):
        hold = holds.release_hold(
            session=session,
            actor=caller.actor,
            context=caller.context,
            node_id=node_id,
            reason=body.reason,
        )
        return HoldRead.of(hold)
