"""The share page of a file or folder, and the "Shared with me" page.

A mistyped username, unit code or group name shows the form again with a message and what was
typed, not an error page.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Actor, Permission
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import service, shares
from polaris.drive.schemas import NodeRead, ShareRead, SpaceRead
from polaris.drive.sidebar import sidebar_of
from polaris.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from polaris.identity import groups, units, users
from polaris.identity.models import Unit, User, UserGroup
from polaris.web.messages import N_, error_message
from polaris.web.pages import PageCaller, page
from polaris.web.params import Day, Id

router = APIRouter(include_in_schema=False)

SubjectType = Literal["user", "unit", "group"]
UNKNOWN_SUBJECT = {
    "user": N_("There is no user with the username %(subject)s."),
    "unit": N_("There is no unit with the code %(subject)s."),
    "group": N_("There is no group named %(subject)s."),
}


def _render_shares(
    request: Request,
    caller: PageCaller,
    session: Session,
    instance: CurrentInstance,
    node_id: int,
    *,
    error: str | None = None,
    error_args: dict[str, str] | None = None,
    entered: dict[str, object] | None = None,
    status_code: int = 200,
) -> Response:
    context = caller.context
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        located = service.get_node(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        current = shares.list_node_shares(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        rows = [
            (
                ShareRead.of(share),
                _subject_label(session, caller.actor, share.subject_type, share.subject_id),
            )
            for share in current
        ]
        group_names = [
            group.name for group, _ in groups.list_groups(session=session, actor=caller.actor)
        ]
        node = NodeRead.of(located, caller.actor)
    response = page(
        request,
        caller,
        "shares.html",
        sidebar,
        space=SpaceRead.of(located.space, caller.actor),
        node=node,
        shares=rows,
        group_names=group_names,
        error=error,
        error_args=error_args or {},
        entered=entered or {},
    )
    response.status_code = status_code
    return response


@router.get("/drive/node/{node_id}/shares")
def shares_page(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    return _render_shares(request, caller, session, instance, node_id)


def _subject_label(session: Session, actor: Actor, subject_type: str, subject_id: int) -> str:
    """Who a share goes to; a group the viewer may not see is not named (as in the share form)."""
    model = {"user": User, "unit": Unit, "group": UserGroup}[subject_type]
    found = session.get(model, subject_id)
    hidden = isinstance(found, UserGroup) and not access.can_see_group(
        actor, group_id=found.id, unit_id=found.unit_id
    )
    if found is None or hidden:
        return "?"
    return str(getattr(found, "username", None) or getattr(found, "name", "?"))


class UnknownSubject(Exception):
    """Nobody by the name typed into the share form."""


def _subject_id(session: Session, actor: Actor, subject_type: SubjectType, subject: str) -> int:
    try:
        if subject_type == "user":
            return users.get_by_username(session=session, username=subject).id
        if subject_type == "unit":
            return units.get_by_code(session=session, code=subject).id
        return groups.get_by_name(session=session, actor=actor, name=subject).id
    except NotFound:
        raise UnknownSubject(subject) from None


@router.post("/drive/node/{node_id}/shares")
def create_share(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    subject_type: SubjectType = Form("user"),
    subject: str = Form(""),
    permission: Literal["read", "edit", "manage"] = Form("read"),
    include_subunits: bool = Form(False),
    expires_on: Day | None = Form(None),
) -> Response:
    """Share with a user (by username), a unit (by code) or a group (by name); an expiry date
    ends the share at midnight UTC at the end of that day."""
    context = caller.context
    subject = subject.strip()
    expires_at = (
        dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        if expires_on
        else None
    )
    entered: dict[str, object] = {
        "subject_type": subject_type,
        "subject": subject,
        "permission": permission,
        "include_subunits": include_subunits,
        "expires_on": expires_on.isoformat() if expires_on else "",
    }
    try:
        with transaction(session):
            shares.create_share(
                session=session,
                actor=caller.actor,
                context=context,
                node_id=node_id,
                subject_type=subject_type,
                subject_id=_subject_id(session, caller.actor, subject_type, subject),
                permission=Permission(permission),
                include_subunits=include_subunits,
                expires_at=expires_at,
            )
    except UnknownSubject:
        message, args = UNKNOWN_SUBJECT[subject_type], {"subject": subject}
    except (ValidationFailed, Conflict, PermissionDenied) as refused:
        message, args = error_message(refused.code), {}
    else:
        return RedirectResponse(f"/drive/node/{node_id}/shares", status_code=303)
    return _render_shares(
        request,
        caller,
        session,
        instance,
        node_id,
        error=message,
        error_args=args,
        entered=entered,
        status_code=422,
    )


@router.post("/drive/share/{share_id}/revoke")
def revoke_share(
    share_id: Id, caller: PageCaller, session: DbSession, node_id: int = Form(0)
) -> Response:
    context = caller.context
    with transaction(session):
        shares.revoke_share(session=session, actor=caller.actor, context=context, share_id=share_id)
    return RedirectResponse(f"/drive/node/{node_id}/shares", status_code=303)


@router.get("/shared")
def shared_with_me_page(
    request: Request, caller: PageCaller, session: DbSession, instance: CurrentInstance
) -> Response:
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        found = shares.shared_with_me(session=session, actor=caller.actor)
        items = [NodeRead.of(s.located, caller.actor) for s in found]
    return page(request, caller, "shared.html", sidebar, items=items)
