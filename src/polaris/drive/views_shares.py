"""The share page of a file or folder, and the "Shared with me" page.

The form names who to share with by part of a name, rank, unit or code (``identity.suggest``): a
script turns the field into a picker (``static/js/picker.js``) that sends the chosen entry as
``subject_ref``; without it, what was typed is resolved on the server. A name that matches nobody
shows the form again with a message and what was typed, one that matches several offers them to
choose from, never an error page.
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
from polaris.drive._locate import Permissions
from polaris.drive.schemas import NodeRead, ShareRead, SpaceRead
from polaris.drive.sidebar import sidebar_of
from polaris.errors import Conflict, PermissionDenied, ValidationFailed
from polaris.identity import suggest
from polaris.identity.models import Unit, User, UserGroup
from polaris.web.i18n import pick_language
from polaris.web.messages import N_, error_message
from polaris.web.pages import PageCaller, page
from polaris.web.params import MAX_ID, Day, Id

router = APIRouter(include_in_schema=False)

SubjectType = Literal["user", "unit", "group"]
UNKNOWN_SUBJECT = {
    "user": N_("No person matches %(subject)s. Try part of their name, rank, unit or username."),
    "unit": N_("No unit matches %(subject)s. Try part of its name (English or Hindi) or code."),
    "group": N_("No group matches %(subject)s. Try part of its name."),
}
AMBIGUOUS_SUBJECT = N_("Several match %(subject)s. Choose one below, or type more of the name.")


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
    candidates: list[suggest.Suggestion] | None = None,
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
        node = NodeRead.of(located, caller.actor)
    response = page(
        request,
        caller,
        "shares.html",
        sidebar,
        space=SpaceRead.of(located.space, caller.actor),
        node=node,
        shares=rows,
        error=error,
        error_args=error_args or {},
        entered=entered or {},
        candidates=candidates or [],
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
    """Nobody (that the sharer may see) matches what was typed into the share form."""


class AmbiguousSubject(Exception):
    """Several match what was typed: the form offers them to choose from."""

    def __init__(self, candidates: list[suggest.Suggestion]) -> None:
        super().__init__(len(candidates))
        self.candidates = candidates


def _subject_id(
    session: Session,
    actor: Actor,
    subject_type: SubjectType,
    subject: str,
    subject_ref: str,
    language: str,
) -> tuple[SubjectType, int]:
    """Who the form names: the entry the picker chose (``kind:id``, checked like any id by
    ``shares.create_share``), else what was typed, resolved like the picker's suggestions."""
    kind, _, number = subject_ref.partition(":")
    if kind in suggest.KINDS and number.isdigit() and 0 < int(number) <= MAX_ID:
        return kind, int(number)
    resolved = suggest.resolve(
        session=session, actor=actor, kind=subject_type, typed=subject, language=language
    )
    if resolved.chosen is not None:
        return subject_type, resolved.chosen.id
    if resolved.candidates:
        raise AmbiguousSubject(resolved.candidates)
    raise UnknownSubject(subject)


@router.post("/drive/node/{node_id}/shares")
def create_share(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    subject_type: SubjectType = Form("user"),
    subject: str = Form(""),
    subject_ref: str = Form("", max_length=40),
    permission: Literal["read", "edit", "manage"] = Form("read"),
    include_subunits: bool = Form(False),
    expires_on: Day | None = Form(None),
) -> Response:
    """Share with a user, a unit or a group: the one the picker chose, else the one matching
    what was typed (``identity.suggest``); an expiry date ends the share at midnight UTC at the
    end of that day."""
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
    candidates: list[suggest.Suggestion] = []
    try:
        with transaction(session):
            kind, subject_id = _subject_id(
                session, caller.actor, subject_type, subject, subject_ref, pick_language(request)
            )
            shares.create_share(
                session=session,
                actor=caller.actor,
                context=context,
                node_id=node_id,
                subject_type=kind,
                subject_id=subject_id,
                permission=Permission(permission),
                include_subunits=include_subunits,
                expires_at=expires_at,
            )
    except UnknownSubject:
        message, args = UNKNOWN_SUBJECT[subject_type], {"subject": subject}
    except AmbiguousSubject as several:
        message, args = AMBIGUOUS_SUBJECT, {"subject": subject}
        candidates = several.candidates
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
        candidates=candidates,
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
    """What is shared with the caller, newest first: each node once (the newest share that
    reaches them), with who shared it and when; a file opens its page."""
    with transaction(session, read_only=True):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        found = shares.shared_with_me(session=session, actor=caller.actor)
        newest: dict[int, shares.SharedNode] = {}
        for shared in found:
            newest.setdefault(shared.located.node.id, shared)
        sharers = shares.sharers_of(session=session, shares=[s.share for s in newest.values()])
        seen = Permissions(caller.actor)
        items = [
            (
                NodeRead.of(shared.located, caller.actor, permissions=seen),
                sharers.get(shared.share.created_by or 0, "?"),
                shared.share.created_at,
            )
            for shared in newest.values()
        ]
    return page(request, caller, "shared.html", sidebar, items=items)
