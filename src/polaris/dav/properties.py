"""Dead properties (PROPPATCH) of a node, kept by the node's id (``dav_property``): they follow a
rename or a move and go with a purge. Setting one needs the right to write the node (``access``,
through ``drive.paths.require``) and is audited as ``dav.property_set`` or
``dav.property_remove``."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from polaris.access.policy import Action
from polaris.dav.context import DavRequest
from polaris.dav.models import DavProperty
from polaris.db.uow import transaction
from polaris.drive import paths
from polaris.drive.paths import Located
from polaris.drive.service import audit_node

#: Properties a Windows client sets after each upload; kept like any other dead property.
MAX_VALUE_BYTES = 64 * 1024


def of_node(request: DavRequest, node_id: int) -> dict[str, str]:
    with transaction(request.session, read_only=True):
        rows = request.session.scalars(
            select(DavProperty).where(DavProperty.node_id == node_id).order_by(DavProperty.name)
        )
        return {row.name: row.value for row in rows}


def of_nodes(request: DavRequest, node_ids: list[int]) -> dict[int, dict[str, str]]:
    """:func:`of_node` for a folder's children, in one query per 500 (a listing asks each child
    for the properties Windows sets, ``Win32FileAttributes`` and the like)."""
    found: dict[int, dict[str, str]] = {node_id: {} for node_id in node_ids}
    with transaction(request.session, read_only=True):
        for start in range(0, len(node_ids), 500):
            rows = request.session.scalars(
                select(DavProperty)
                .where(DavProperty.node_id.in_(node_ids[start : start + 500]))
                .order_by(DavProperty.node_id, DavProperty.name)
            )
            for row in rows:
                found[row.node_id][row.name] = row.value
    return found


def check_writable(request: DavRequest, node_id: int) -> None:
    """Raise what a write of the node's properties would be refused with."""
    with transaction(request.session, read_only=True):
        _require(request.session, request, node_id)


def write(request: DavRequest, node_id: int, name: str, value: str | None) -> None:
    """Set (or, with None, remove) one dead property of a node the caller may write."""
    session = request.session
    with transaction(session):
        located = _require(session, request, node_id)
        session.execute(
            delete(DavProperty).where(DavProperty.node_id == node_id, DavProperty.name == name)
        )
        if value is not None:
            session.add(DavProperty(node_id=node_id, name=name, value=value))
        action = "dav.property_remove" if value is None else "dav.property_set"
        audit_node(session, request.context, action, located, detail={"name": name[:200]})


def copy(session: Session, source_id: int, target_id: int) -> None:
    """Give a copy its source's dead properties (the caller authorised the copy)."""
    for row in session.scalars(select(DavProperty).where(DavProperty.node_id == source_id)):
        session.add(DavProperty(node_id=target_id, name=row.name, value=row.value))


def _require(session: Session, request: DavRequest, node_id: int) -> Located:
    return paths.require(
        session=session,
        actor=request.actor,
        context=request.context,
        node_id=node_id,
        action=Action.WRITE,
    )
