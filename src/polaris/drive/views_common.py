"""What the drive pages share: the signed-in frame (sidebar of spaces) and redirects."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from polaris.deps import CurrentInstance, DbSession
from polaris.drive import spaces
from polaris.drive.api import space_defaults
from polaris.drive.schemas import SpaceRead
from polaris.web.pages import PageCaller, form_csrf
from polaris.web.templating import render


def page(
    request: Request,
    caller: PageCaller,
    template: str,
    sidebar: list[SpaceRead],
    **context: Any,
) -> Response:
    """Render a signed-in page: the CSRF token for its forms, the person and the spaces."""
    token, _ = form_csrf(request)
    return render(request, template, csrf=token, user=caller.user, spaces=sidebar, **context)


def sidebar_of(
    caller: PageCaller, session: DbSession, instance: CurrentInstance
) -> list[SpaceRead]:
    found = spaces.visible_spaces(
        session=session, actor=caller.actor, defaults=space_defaults(instance)
    )
    return [SpaceRead.of(space, caller.actor) for space in found]


def back_to(node_parent_id: int | None, fallback: str = "/") -> RedirectResponse:
    return RedirectResponse(
        f"/drive/{node_parent_id}" if node_parent_id else fallback, status_code=303
    )
