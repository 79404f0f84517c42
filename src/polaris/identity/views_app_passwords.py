"""The page where a signed-in person makes, sees and revokes app passwords (for WebDAV clients:
a mapped Windows drive, a phone). The same services as ``/api/v1/app-passwords``; a new password
is shown on the answer to the form that made it, once, and never again."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.errors import PolarisError
from polaris.identity import app_passwords
from polaris.identity.models import User
from polaris.web.messages import N_, error_message
from polaris.web.pages import PageCaller, form_csrf
from polaris.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "/account/app-passwords"
SCOPE_NAMES = {"read": N_("Read only"), "write": N_("Read and write")}


def _page(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    *,
    status_code: int = 200,
    made: app_passwords.IssuedAppPassword | None = None,
    error: str | None = None,
    name: str = "",
) -> Response:
    with transaction(session, read_only=True):
        rows = app_passwords.list_for(session=session, user=caller.user)
    token, _ = form_csrf(request)
    response = render(
        request,
        "app_passwords.html",
        status_code=status_code,
        csrf=token,
        user=caller.user,
        passwords=list(reversed(rows)),
        scope_names=SCOPE_NAMES,
        made=made,
        error=error,
        name=name,
        dav_url=str(request.base_url).rstrip("/") + "/dav/",
    )
    response.headers["Cache-Control"] = "no-store"  # the new password must not be kept
    return response


@router.get(PAGE)
def app_passwords_page(request: Request, caller: PageCaller, session: DbSession) -> Response:
    return _page(request, caller, session)


@router.post(PAGE)
def make_app_password(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    name: str = Form(""),
    scope: str = Form("read"),
) -> Response:
    try:
        with transaction(session):
            user = session.get(User, caller.user.id)
            assert user is not None
            made = app_passwords.create(
                session=session, user=user, name=name, scope=scope, context=caller.context
            )
    except PolarisError as failure:
        return _page(
            request,
            caller,
            session,
            status_code=failure.status,
            error=error_message(failure.code),
            name=name,
        )
    return _page(request, caller, session, made=made)


@router.post(PAGE + "/{password_id}/revoke")
def revoke_app_password(
    password_id: int, request: Request, caller: PageCaller, session: DbSession
) -> Response:
    with transaction(session):
        app_passwords.revoke(
            session=session, user=caller.user, password_id=password_id, context=caller.context
        )
    return RedirectResponse(PAGE, status_code=303)
