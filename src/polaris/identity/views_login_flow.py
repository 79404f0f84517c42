"""Nextcloud's login flow v2 over HTTP (``identity.login_flow``): the app's two requests and the
page where the signed-in person grants it an app password.

- ``POST /index.php/login/v2``: a new flow; JSON with the page to open and the poll token (a
  Problem, 429 with ``Retry-After``, while the client's address is throttled).
- ``GET /index.php/login/v2/flow/{token}``: the page, for a signed-in person (sign-in and the
  second factor as for any page); ``POST`` of its form grants.
- ``POST /index.php/login/v2/poll`` (form ``token``): the server, username and app password once
  granted, else 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession, Info
from polaris.errors import NotFound, Throttled
from polaris.identity import login_flow
from polaris.identity.models import User
from polaris.web.pages import PageCaller, form_csrf
from polaris.web.problems import problem
from polaris.web.templating import render

router = APIRouter(include_in_schema=False)
START = "/index.php/login/v2"
PAGE = START + "/flow/{token}"
POLL = START + "/poll"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post(START)
def start_login_flow(
    request: Request, session: DbSession, info: Info, instance: CurrentInstance
) -> Response:
    client = login_flow.client_name(request.headers.get("user-agent"))
    try:
        with transaction(session):
            started = login_flow.start(
                session=session,
                client=client,
                source_address=info.source_address,
                policy=instance.auth.throttle,
            )
    except Throttled as refused:
        # An app, not a browser page: a Problem (pages' errors are HTML without Retry-After).
        wait = str(max(1, round(refused.retry_after)))
        return problem(429, refused.code, refused.detail, headers={"Retry-After": wait})
    base = _base(request)
    return JSONResponse(
        {
            "poll": {"token": started.poll_token, "endpoint": base + POLL},
            "login": base + PAGE.format(token=started.login_token),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post(POLL)
def poll_login_flow(request: Request, session: DbSession, token: str = Form("")) -> Response:
    try:
        with transaction(session):
            granted = login_flow.poll(session=session, poll_token=token)
    except NotFound:
        return JSONResponse({"error": "not granted (yet)"}, status_code=404)
    return JSONResponse(
        {
            "server": _base(request),
            "loginName": granted.username,
            "appPassword": granted.app_password,
        },
        headers={"Cache-Control": "no-store"},
    )


def _page(
    request: Request, caller: PageCaller, *, client: str | None, done: bool, status: int
) -> Response:
    token, _ = form_csrf(request)
    response = render(
        request,
        "login_flow.html",
        status_code=status,
        csrf=token,
        user=caller.user,
        client=client,
        done=done,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(PAGE)
def login_flow_page(
    token: str, request: Request, caller: PageCaller, session: DbSession
) -> Response:
    try:
        with transaction(session, read_only=True):
            flow = login_flow.pending(session=session, login_token=token)
    except NotFound:
        return _page(request, caller, client=None, done=False, status=404)
    return _page(request, caller, client=flow.client, done=False, status=200)


@router.post(PAGE)
def grant_login_flow(
    token: str, request: Request, caller: PageCaller, session: DbSession
) -> Response:
    try:
        with transaction(session):
            user = session.get(User, caller.user.id)
            assert user is not None
            flow = login_flow.grant(
                session=session, user=user, login_token=token, context=caller.context
            )
    except NotFound:
        return _page(request, caller, client=None, done=False, status=404)
    return _page(request, caller, client=flow.client, done=True, status=200)
