"""What every page needs: who is signed in, CSRF tokens for forms, redirects, and the frame.

Pages authenticate with the session cookie only (never an API token). While an
administrator-issued password is unchanged, every page but the password form leads back to it.

A form that changes anything carries a hidden ``csrf`` field: with a session, the HMAC of the
session token (as the API's ``X-CSRF-Token``); before sign-in, the HMAC of a random
``polaris_pre`` cookie, so that nobody can make a browser sign in to an account of theirs (login
CSRF). The token in a page is masked afresh for every response (a random pad, then the token
XOR the pad): pages are gzip-compressed (``polaris.web.compression``) and may show text an
attacker chose next to the token, and a secret that never repeats byte for byte cannot be read
from compressed sizes (BREACH). The unmasked token is accepted too (the ``polaris_csrf`` cookie's
value, which the API's header carries).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access.policy import Need, route_need
from polaris.db.uow import transaction
from polaris.deps import (
    SAFE_METHODS,
    SESSION_COOKIE,
    Caller,
    csrf_token_for,
    get_instance,
    get_request_info,
    get_session,
    operation_of,
    record_seen,
    session_caller,
)
from polaris.errors import MfaRequired, NotAuthenticated, PermissionDenied
from polaris.web.header import counts_for
from polaris.web.templating import render

PRE_SESSION_COOKIE = "polaris_pre"


class Redirect(Exception):
    """Answer with a 303 to ``url`` (handled in ``polaris.web.problems``)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def login_url(request: Request, *, expired: bool = False) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    url = f"/login?next={quote(target, safe='')}"
    return url + "&expired=1" if expired else url


def safe_next(value: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme): no open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def check_form_csrf(request: Request) -> None:
    """Refuse a state-changing form without the right ``csrf`` field."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    sent = str(form.get("csrf", ""))
    instance = get_instance(request)
    session_token = request.cookies.get(SESSION_COOKIE)
    expected = []
    if session_token:
        expected.append(csrf_token_for(instance, session_token))
    pre = request.cookies.get(PRE_SESSION_COOKIE)
    if pre:
        expected.append(csrf_token_for(instance, "pre:" + pre))
    candidates = (sent, unmask(sent))
    if not sent or not any(
        hmac.compare_digest(candidate.encode(), token.encode())
        for candidate in candidates
        for token in expected
    ):
        raise PermissionDenied("missing or wrong CSRF token", code="csrf_failed")


def form_csrf(request: Request) -> tuple[str, str | None]:
    """The token to put in forms, and a new ``polaris_pre`` cookie value when one is needed."""
    instance = get_instance(request)
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        return mask(csrf_token_for(instance, session_token)), None
    pre = request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(24)
    new_cookie = None if request.cookies.get(PRE_SESSION_COOKIE) else pre
    return mask(csrf_token_for(instance, "pre:" + pre)), new_cookie


def mask(token: str) -> str:
    """``token`` (ASCII) under a fresh random pad: hex of the pad, then of token XOR pad."""
    raw = token.encode("ascii")
    pad = secrets.token_bytes(len(raw))
    return (pad + bytes(a ^ b for a, b in zip(raw, pad, strict=True))).hex()


def unmask(sent: str) -> str:
    """The token a masked form field carries (for anything else, what it came as)."""
    if len(sent) % 4 or len(sent) < 4:
        return sent
    try:
        data = bytes.fromhex(sent)
    except ValueError:
        return sent
    half = len(data) // 2
    plain = bytes(a ^ b for a, b in zip(data[half:], data[:half], strict=True))
    try:
        return plain.decode("ascii")
    except UnicodeDecodeError:
        return sent


#: The one page open while a password change is due (sign-out is a form that needs no caller).
PASSWORD_PAGE = "/account/password"  # noqa: S105 - a path, not a password


def _page_caller(request: Request, session: Session, need: Need) -> Caller:
    """The signed-in person, or a redirect to the step of sign-in they are at, or to the
    password form while a password change is due (``access`` decides and audits that)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Redirect(login_url(request))
    instance = get_instance(request)
    info = get_request_info(request)
    try:
        with transaction(session, read_only=True):
            caller, touch = session_caller(session, instance, token, info)
            gate.require_credentials(
                session=session,
                actor=caller.actor,
                need=need,
                operation=operation_of(request),
                context=caller.context,
            )
    except MfaRequired as error:
        raise Redirect("/enrol" if error.code == "mfa_enrol_required" else "/login/mfa") from None
    except NotAuthenticated:
        raise Redirect(login_url(request, expired=True)) from None
    except PermissionDenied as error:
        if error.code == "password_change_required":
            raise Redirect(PASSWORD_PAGE) from None
        raise
    request.state.user_id = caller.user.id
    record_seen(session, touch)
    return caller


def get_page_caller(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    _csrf: Annotated[None, Depends(check_form_csrf)],
) -> Caller:
    """The signed-in person of every page but the password form."""
    return _page_caller(request, session, route_need(request.method))


def get_password_page_caller(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    _csrf: Annotated[None, Depends(check_form_csrf)],
) -> Caller:
    """The signed-in person on the password form, also while a password change is due."""
    return _page_caller(request, session, Need.PASSWORD_CHANGE)


PageCaller = Annotated[Caller, Depends(get_page_caller)]
PasswordPageCaller = Annotated[Caller, Depends(get_password_page_caller)]
FormChecked = Annotated[None, Depends(check_form_csrf)]


def page(
    request: Request,
    caller: Caller,
    template: str,
    sidebar: Sequence[object],
    **context: Any,
) -> Response:
    """Render a page in the signed-in frame: the CSRF token for its forms, the person, and the
    spaces of the sidebar (``drive.sidebar.sidebar``, which the page's package asks for: this
    package knows no domain), the header's counts (``web.header``). Shared by the pages of
    drive, ingest and search."""
    token, _ = form_csrf(request)
    return render(
        request,
        template,
        csrf=token,
        user=caller.user,
        spaces=sidebar,
        header_counts=counts_for(request, caller.user.id),
        **context,
    )
