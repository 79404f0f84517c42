"""The malware scan's list on the status page: release quarantined or held content (a false
positive: the reason is required) or delete it for good (a ticked confirmation). Administrators
only; ``drive.quarantine`` asks ``access.gate`` again and audits each (``content.release``,
``content.delete``). Both act on the content, so on every file that holds the same bytes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from polaris.admin._pages import AdminPageCaller, form_action, message_for
from polaris.admin.views_status import render_status
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import quarantine

router = APIRouter(include_in_schema=False)

Sha256 = Annotated[str, Path(pattern="^[0-9a-f]{64}$")]


@router.post("/admin/scan/{sha256}/release")
def release(
    sha256: Sha256,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    reason: str = Form(""),
) -> Response:
    return form_action(
        session,
        lambda: quarantine.release_content(
            session=session,
            actor=caller.actor,
            context=caller.context,
            sha256=sha256,
            reason=reason,
        ),
        done="/admin/status?done=released#malware",
        refused=lambda error: render_status(
            request,
            caller,
            session,
            error=message_for(error),
            status_code=error.status,
            values={"sha256": sha256, "release_reason": reason},
        ),
    )


@router.post("/admin/scan/{sha256}/delete")
def delete(
    sha256: Sha256,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    instance: CurrentInstance,
    confirm: str = Form(""),
) -> Response:
    return form_action(
        session,
        lambda: quarantine.delete_content(
            session=session,
            actor=caller.actor,
            context=caller.context,
            blobs=instance.blobs,
            sha256=sha256,
        ),
        confirm=confirm,
        done="/admin/status?done=deleted#malware",
        refused=lambda error: render_status(
            request, caller, session, error=message_for(error), status_code=error.status
        ),
    )
