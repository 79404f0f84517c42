"""Download a folder, or a selection of nodes, as one streamed ZIP (``polaris.drive.zipping``).

Plain functions: the plan is made in the caller's read-only snapshot, and Starlette iterates the
synchronous body in the thread pool, where each file is authorised and audited on its own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from polaris.db.uow import transaction
from polaris.deps import Caller, CurrentCaller, CurrentInstance, DbSession, ReadCaller
from polaris.drive import zipping
from polaris.instance import Instance
from polaris.web.downloads import content_disposition
from polaris.web.i18n import pick_language, translations
from polaris.web.params import Id

router = APIRouter(tags=["files"])


class ZipRequest(BaseModel):
    node_ids: Annotated[list[int], Field(min_length=1, max_length=zipping.MAX_SELECTION)]


def zip_response(
    request: Request,
    caller: Caller,
    session: Session,
    instance: Instance,
    node_ids: list[int],
) -> StreamingResponse:
    """Plan the ZIP of ``node_ids`` (authorised, 404 for a hidden or missing one) and stream it;
    also used by the folder page's selection."""
    with transaction(session, read_only=True):
        plan = zipping.plan_zip(
            session=session, actor=caller.actor, context=caller.context, node_ids=node_ids
        )
    body = zipping.stream_zip(
        plan,
        sessions=instance.sessions,
        actor=caller.actor,
        context=caller.context,
        blobs=instance.blobs,
        gettext=translations(pick_language(request)).gettext,
    )
    headers = {
        "Content-Disposition": content_disposition(f"{plan.name}.zip"),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(body, media_type="application/zip", headers=headers)


@router.get("/nodes/{node_id}/zip", response_class=StreamingResponse)
def download_zip(
    node_id: Id,
    request: Request,
    caller: ReadCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> StreamingResponse:
    """A folder (or a file) and what is below it that you may read, as a ZIP.

    Each file is authorised and audited (``file.read``) as it is added; content the malware scan
    holds or quarantined is left out and named in ``NOT-INCLUDED.txt`` in the ZIP.
    """
    return zip_response(request, caller, session, instance, [node_id])


@router.post("/zip", response_class=StreamingResponse)
def download_selection(
    body: ZipRequest,
    request: Request,
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> StreamingResponse:
    """Nodes side by side in one ZIP (a hidden or missing id: 404, as for one node)."""
    return zip_response(request, caller, session, instance, body.node_ids)
