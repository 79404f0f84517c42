"""The messenger's administration page, ``/admin/chat``: export a room for an inquiry, the
retention rules of kinds of room, and legal holds on rooms and users.

Each form is one call of the services the JSON API (``chat.api_export``, ``chat.api_retention``)
and ``polaris chat export`` / ``polaris retention`` make: ``chat.export.export_room`` decides
through ``access.require_chat_export`` and audits ``chat.export`` with the reason;
``chat.retention`` asks ``access.gate`` and audits ``retention.rule_set``, ``chat.hold`` and
``chat.release``. A refused form answers with the page again, the error on top and what was
typed kept; an export answers the file to download.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from polaris.admin._pages import AdminPageCaller, admin_page, form_action, message_for
from polaris.chat import admin_rooms, export, retention
from polaris.chat.models import ROOM_KINDS
from polaris.db.uow import transaction
from polaris.deps import Caller, DbSession
from polaris.drive import retention as drive_retention
from polaris.errors import NotFound, PolarisError, ValidationFailed
from polaris.identity import users
from polaris.web.i18n import pick_language
from polaris.web.messages import N_

router = APIRouter(include_in_schema=False)

PAGE = "/admin/chat"
DONE_NOTICES = {
    "rule_set": N_("The rule is saved."),
    "held": N_("The legal hold is placed."),
    "lifted": N_("The legal hold is lifted."),
}
#: Labels of the kinds of room.
ROOM_KIND_LABELS = {
    "direct": N_("Direct conversations"),
    "group": N_("Groups"),
    "unit_channel": N_("Unit channels"),
    "broadcast": N_("Broadcasts"),
}
CHAT_ERRORS = {
    "not_found": N_("No room or user has this number or username."),
    "already_held": N_("This room or user is already under a legal hold."),
    "not_held": N_("This room or user is not under a legal hold."),
    "retention_duration": N_("Keep messages from 1 to 36500 days, as a whole number."),
    "export_format": N_("Choose JSON or a transcript."),
}


@router.get(PAGE)
def chat_admin_page(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    done: str = "",
    rooms: str = Query("", max_length=200),
) -> Response:
    return _page(request, caller, session, notice=DONE_NOTICES.get(done), room_filter=rooms)


def _page(
    request: Request,
    caller: Caller,
    session: Session,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    room_filter: str = "",
) -> Response:
    with transaction(session):
        actor, context = caller.actor, caller.context
        rules = drive_retention.list_room_rules(session=session, actor=actor, context=context)
        holds = retention.list_holds(session=session, actor=actor, context=context)
        choices = admin_rooms.room_choices(session, room_filter)
        room_labels, user_labels = admin_rooms.labels_of(
            session,
            [h.room_id for h in holds if h.room_id is not None],
            [i for h in holds for i in (h.user_id, h.held_by) if i is not None],
        )
    days = {rule.room_kind: rule for rule in rules}
    return admin_page(
        request,
        caller,
        "admin/chat.html",
        section="chat",
        status_code=status_code,
        notice=notice,
        error=error,
        values=values or {},
        room_filter=room_filter,
        choices=choices,
        kinds=[(kind, ROOM_KIND_LABELS[kind], days.get(kind)) for kind in ROOM_KINDS],
        kind_labels=ROOM_KIND_LABELS,
        holds=holds,
        room_labels=room_labels,
        user_labels=user_labels,
        max_days=drive_retention.MAX_DAYS,
    )


def _refused(
    request: Request,
    caller: Caller,
    session: Session,
    error: PolarisError,
    values: dict[str, str] | None = None,
) -> Response:
    message = CHAT_ERRORS.get(error.code) or message_for(error)
    return _page(request, caller, session, error=message, status_code=error.status, values=values)


def _number(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or not 0 < int(text) < 2**53:
        raise NotFound("no such room", code="not_found")
    return int(text)


@router.post(f"{PAGE}/export")
def export_room(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    room: str = Form(""),
    reason: str = Form("", max_length=2000),
    format: str = Form("json"),
) -> Response:
    """The room's whole record as a file to download (JSON, or the transcript in the page's
    language), after the decision and with its audit record."""
    values = {"room": room, "reason": reason, "format": format}
    try:
        with transaction(session):
            room_id = _number(room)
            record = export.export_room(
                session=session,
                actor=caller.actor,
                context=caller.context,
                room_id=room_id,
                reason=reason,
                fmt=format,
            )
    except PolarisError as error:
        return _refused(request, caller, session, error, values)
    text = export.render(record, format, pick_language(request))
    media = "application/json" if format == "json" else "text/plain; charset=utf-8"
    filename = f"room-{room_id}.{'json' if format == 'json' else 'txt'}"
    return Response(
        text,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _days(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or not 1 <= int(text) <= drive_retention.MAX_DAYS:
        raise ValidationFailed("a whole number of days", code="retention_duration")
    return int(text)


@router.post(f"{PAGE}/rules")
def set_rule(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    room_kind: str = Form(""),
    keep_messages_days: str = Form(""),
) -> Response:
    values = {"room_kind": room_kind, "keep_messages_days": keep_messages_days}
    return form_action(
        session,
        lambda: retention.set_room_rule(
            session=session,
            actor=caller.actor,
            context=caller.context,
            kind=room_kind,
            days=_days(keep_messages_days),
        ),
        done=f"{PAGE}?done=rule_set#rules",
        refused=lambda error: _refused(request, caller, session, error, values),
    )


def _target(session: Session, room: str, username: str) -> retention.HoldTarget:
    """A room by its number, or a user by username: exactly one of the two."""
    if room.strip() and username.strip():
        raise ValidationFailed("hold a room or a user, one of them", code="hold_target")
    if username.strip():
        return retention.HoldTarget(
            user_id=users.get_by_username(session=session, username=username).id
        )
    if not room.strip():
        raise ValidationFailed("hold a room or a user, one of them", code="hold_target")
    return retention.HoldTarget(room_id=_number(room))


@router.post(f"{PAGE}/holds")
def place_hold(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    room: str = Form(""),
    username: str = Form("", max_length=200),
    reason: str = Form("", max_length=2000),
) -> Response:
    values = {"hold_room": room, "username": username, "reason": reason}
    return form_action(
        session,
        lambda: retention.place_hold(
            session=session,
            actor=caller.actor,
            context=caller.context,
            target=_target(session, room, username),
            reason=reason,
        ),
        done=f"{PAGE}?done=held#holds",
        refused=lambda error: _refused(request, caller, session, error, values),
    )


@router.post(f"{PAGE}/holds/release")
def release_hold(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    room: str = Form(""),
    user: str = Form(""),
    reason: str = Form("", max_length=2000),
) -> Response:
    """Lift the hold on a room (``room``: its number) or a user (``user``: their id)."""

    def lift() -> None:
        target = (
            retention.HoldTarget(user_id=_number(user))
            if user.strip()
            else retention.HoldTarget(room_id=_number(room))
        )
        retention.release_hold(
            session=session,
            actor=caller.actor,
            context=caller.context,
            target=target,
            reason=reason,
        )

    return form_action(
        session,
        lift,
        done=f"{PAGE}?done=lifted#holds",
        refused=lambda error: _refused(
            request, caller, session, error, {"lift": room or user, "lift_reason": reason}
        ),
    )
