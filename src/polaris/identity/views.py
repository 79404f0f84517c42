"""Sign-in pages: password, second factor, authenticator enrolment, sign-out, language.

Pages call the same ``auth`` services as the JSON API and add no rule of their own.
"""

from __future__ import annotations

from urllib.parse import quote

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.db.uow import transaction
from polaris.deps import (
    SESSION_COOKIE,
    CurrentInstance,
    DbSession,
    Info,
    clear_session_cookies,
    set_session_cookies,
)
from polaris.errors import PolarisError
from polaris.identity import auth
from polaris.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from polaris.web.messages import error_message
from polaris.web.pages import PRE_SESSION_COOKIE, FormChecked, form_csrf, safe_next
from polaris.web.templating import render

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, template: str, *, status_code: int = 200, **context: object
) -> Response:
    token, new_pre = form_csrf(request)
    response = render(request, template, status_code=status_code, csrf=token, **context)
    if new_pre is not None:
        secure = request.app.state.instance.settings.session.cookie_secure
        response.set_cookie(
            PRE_SESSION_COOKIE, new_pre, httponly=True, secure=secure, samesite="strict", path="/"
        )
    return response


def _after_step(stage: str, next_url: str) -> str:
    if stage == "mfa":
        return f"/login/mfa?next={quote(next_url, safe='')}"
    if stage == "enrol":
        return "/enrol"
    return next_url


@router.get("/login")
def login_page(request: Request, next: str = "/", expired: bool = False) -> Response:
    notice = error_message("session_expired") if expired else None
    return _page(request, "login.html", next=safe_next(next), notice=notice, error=None)


@router.post("/login")
def login(
    request: Request,
    _csrf: FormChecked,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    target = safe_next(next)
    try:
        with transaction(session):
            step = auth.login(
                session=session,
                config=instance.auth,
                username=username,
                password=password,
                request=info,
            )
    except PolarisError as error:
        return _page(
            request,
            "login.html",
            status_code=error.status,
            next=target,
            notice=None,
            error=error_message(error.code),
            username=username,
        )
    response = RedirectResponse(_after_step(step.stage, target), status_code=303)
    set_session_cookies(response, instance, step.token)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")
    return response


@router.get("/login/mfa")
def mfa_page(request: Request, next: str = "/") -> Response:
    return _page(request, "mfa.html", next=safe_next(next), error=None)


@router.post("/login/mfa")
def verify_mfa(
    request: Request,
    _csrf: FormChecked,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
    code: str = Form(""),
    next: str = Form("/"),
) -> Response:
    target = safe_next(next)
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        with transaction(session):
            step = auth.verify_mfa(
                session=session, config=instance.auth, token=token, code=code.strip(), request=info
            )
    except PolarisError as error:
        if error.code == "session_expired":
            return RedirectResponse("/login?expired=1", status_code=303)
        return _page(
            request, "mfa.html", status_code=error.status, next=target,
            error=error_message(error.code),
        )  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    set_session_cookies(response, instance, step.token)
    return response


@router.get("/enrol")
def enrol_page(request: Request) -> Response:
    return _page(request, "enrol.html", error=None)


@router.post("/enrol/start")
def enrol_start(
    request: Request,
    _csrf: FormChecked,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
    password: str | None = Form(None),
) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        with transaction(session):
            started = auth.begin_enrolment(
                session=session, config=instance.auth, token=token, password=password, request=info
            )
    except PolarisError as error:
        if error.code == "session_expired":
            return RedirectResponse("/login?expired=1", status_code=303)
        return _page(
            request, "enrol.html", status_code=error.status, error=error_message(error.code)
        )
    qr = segno.make(started.provisioning_uri, error="m").svg_data_uri(scale=5, border=2)
    return _page(request, "enrol_qr.html", qr=qr, secret=started.secret, error=None)


@router.post("/enrol/confirm")
def enrol_confirm(
    request: Request,
    _csrf: FormChecked,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
    code: str = Form(""),
) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        with transaction(session):
            done = auth.confirm_enrolment(
                session=session, config=instance.auth, token=token, code=code.strip(), request=info
            )
    except PolarisError as error:
        return _page(
            request, "enrol.html", status_code=error.status, error=error_message(error.code)
        )
    response = _page(request, "recovery_codes.html", codes=done.recovery_codes)
    if done.step is not None:
        set_session_cookies(response, instance, done.step.token)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/logout")
def logout(
    request: Request,
    _csrf: FormChecked,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with transaction(session):
            auth.logout(session=session, config=instance.auth, token=token, request=info)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookies(response)
    return response


@router.post("/language")
def choose_language(
    request: Request, _csrf: FormChecked, lang: str = Form("en"), next: str = Form("/")
) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGUAGES:
        secure = request.app.state.instance.settings.session.cookie_secure
        response.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            secure=secure,
            samesite="lax",
            path="/",
        )
    return response
