"""The incident switch on the status page: turn the instance read-only (a reason and a ticked
confirmation) and back. Administrators only (``AdminPageCaller``, and ``incident.service`` asks
``access.gate`` again), each change audited as the switch's own ``incident.on`` / ``incident.off``
record, which is the state itself.

While the switch is on, :data:`polaris.web.readonly.INCIDENT_OFF` is the one administration form
the read-only gate lets through: otherwise the switch could only be turned off from the command
line. The node that changed it reads the new state at once (the cache is invalidated); the others
within the cache's lifetime (2 s).
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from polaris.admin._pages import AdminPageCaller, form_action, message_for
from polaris.admin.views_status import render_status
from polaris.deps import Caller, DbSession
from polaris.errors import PolarisError
from polaris.incident import service as incident
from polaris.web.readonly import INCIDENT_OFF

router = APIRouter(include_in_schema=False)


def _refused(request: Request, caller: Caller, session: Session, error: PolarisError) -> Response:
    return render_status(
        request, caller, session, error=message_for(error), status_code=error.status
    )


def _state_changed(request: Request) -> None:
    source = getattr(request.app.state, "read_only", None)
    if isinstance(source, incident.CachedState):
        source.invalidate()


@router.post("/admin/incident/on")
def switch_on(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    reason: str = Form(""),
    confirm: str = Form(""),
) -> Response:
    return form_action(
        session,
        lambda: incident.turn_on(
            session=session, actor=caller.actor, context=caller.context, reason=reason
        ),
        confirm=confirm,
        done="/admin/status?done=incident_on#incident",
        then=lambda: _state_changed(request),
        refused=lambda error: render_status(
            request,
            caller,
            session,
            error=message_for(error),
            status_code=error.status,
            values={"incident_reason": reason},
        ),
    )


@router.post(INCIDENT_OFF)
def switch_off(
    request: Request, caller: AdminPageCaller, session: DbSession, confirm: str = Form("")
) -> Response:
    return form_action(
        session,
        lambda: incident.turn_off(session=session, actor=caller.actor, context=caller.context),
        confirm=confirm,
        done="/admin/status?done=incident_off#incident",
        then=lambda: _state_changed(request),
        refused=lambda error: _refused(request, caller, session, error),
    )
