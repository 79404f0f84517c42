"""Sign-in pages: password, second factor, authenticator enrolment, sign-out, language, and
the signed-in person's password change.

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
    record_seen,
    set_session_cookies,
)
from polaris.errors import MfaRequired, NotAuthenticated, PolarisError, ValidationFailed
from polaris.identity import auth, second_factor
from polaris.identity.models import User
from polaris.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from polaris.web.messages import N_, error_message
from polaris.web.pages import (
    PASSWORD_PAGE,
    PRE_SESSION_COOKIE,
    FormChecked,
    PasswordPageCaller,
    form_csrf,
    safe_next,
)
from polaris.web.templating import render

router = APIRouter(include_in_schema=False)

#: Messages of the password page, by error code, and the field each one is about.
PASSWORD_ERRORS = {
    "reauthentication_failed": (N_("Your current password is not right."), "current"),
    "password_mismatch": (N_("The two new passwords are not the same."), "repeat"),
    "password_too_short": (N_("The new password is too short: use at least 8 characters."), "new"),
    "password_too_long": (N_("The new password is too long: use at most 128 characters."), "new"),
    "password_common": (
        N_("The new password is one that many people use. Choose one that is harder to guess."),
        "new",
    ),
    "password_is_username": (N_("The new password cannot be your username."), "new"),
}


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


def _after_step(step: auth.SignInStep, next_url: str) -> str:
    """Where a sign-in step leads: the next step, the password page if an administrator set the
    password, or where the person was going."""
    if step.stage == "mfa":
        return f"/login/mfa?next={quote(next_url, safe='')}"
    if step.stage == "enrol":
        return "/enrol"
    if step.user.must_change_password:
        return PASSWORD_PAGE
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
    response = RedirectResponse(_after_step(step, target), status_code=303)
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
            step = second_factor.verify_mfa(
                session=session, config=instance.auth, token=token, code=code.strip(), request=info
            )
    except PolarisError as error:
        if error.code == "session_expired":
            return RedirectResponse("/login?expired=1", status_code=303)
        return _page(
            request, "mfa.html", status_code=error.status, next=target,
            error=error_message(error.code),
        )  # fmt: skip
    response = RedirectResponse(_after_step(step, target), status_code=303)
    set_session_cookies(response, instance, step.token)
    return response


def _sign_in_stage(request: Request, instance: CurrentInstance, session: DbSession) -> str | None:
    """``active``, ``mfa`` or ``enrol``: how far the session cookie's sign-in got; None if over."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        with transaction(session, read_only=True):
            signed_in = auth.resolve_session(session=session, config=instance.auth, token=token)
    except MfaRequired as error:
        return "enrol" if error.code == "mfa_enrol_required" else "mfa"
    except NotAuthenticated:
        return None
    record_seen(session, signed_in.touch)
    return "active"


def _enrol_page(
    request: Request,
    instance: CurrentInstance,
    session: DbSession,
    *,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    """The start of enrolment: forced by the role during sign-in, or chosen from a full session
    (which must give the password again)."""
    stage = _sign_in_stage(request, instance, session)
    if stage is None:
        expired = SESSION_COOKIE in request.cookies
        return RedirectResponse("/login?expired=1" if expired else "/login", status_code=303)
    if stage == "mfa":
        return RedirectResponse("/login/mfa", status_code=303)
    return _page(
        request, "enrol.html", status_code=status_code, forced=stage == "enrol", error=error
    )


def _enrol_failed(
    request: Request, instance: CurrentInstance, session: DbSession, error: PolarisError
) -> Response:
    if error.code == "session_expired":
        return RedirectResponse("/login?expired=1", status_code=303)
    return _enrol_page(
        request, instance, session, status_code=error.status, error=error_message(error.code)
    )


@router.get("/enrol")
def enrol_page(request: Request, instance: CurrentInstance, session: DbSession) -> Response:
    return _enrol_page(request, instance, session)


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
            started = second_factor.begin_enrolment(
                session=session, config=instance.auth, token=token, password=password, request=info
            )
    except PolarisError as error:
        return _enrol_failed(request, instance, session, error)
    qr = segno.make(started.provisioning_uri, error="m").svg_data_uri(scale=5, border=2)
    response = _page(request, "enrol_qr.html", qr=qr, secret=started.secret, error=None)
    response.headers["Cache-Control"] = "no-store"
    return response


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
            done = second_factor.confirm_enrolment(
                session=session, config=instance.auth, token=token, code=code.strip(), request=info
            )
    except PolarisError as error:
        if error.code != "invalid_code":
            return _enrol_failed(request, instance, session, error)
        # The app already holds the key: ask for a code again rather than start over.
        return _page(
            request, "enrol_qr.html", status_code=error.status, qr=None, secret=None,
            error=error_message(error.code),
        )  # fmt: skip
    must_change = done.step is not None and done.step.user.must_change_password
    response = _page(
        request,
        "recovery_codes.html",
        codes=done.recovery_codes,
        continue_to=PASSWORD_PAGE if must_change else "/",
    )
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
    if lang not in LANGUAGES:  # the page only offers known ones: say so, never ignore it
        raise ValidationFailed("this language is not offered")
    response = RedirectResponse(safe_next(next), status_code=303)
    secure = request.app.state.instance.settings.session.cookie_secure
    response.set_cookie(
        LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, secure=secure, samesite="lax", path="/"
    )
    return response


def _password_page(
    request: Request,
    caller: PasswordPageCaller,
    *,
    status_code: int = 200,
    notice: str | None = None,
    error_code: str | None = None,
) -> Response:
    error, invalid = PASSWORD_ERRORS.get(error_code or "", (None, None))
    if error_code is not None and error is None:
        error = error_message(error_code)
    token, _ = form_csrf(request)
    response = render(
        request,
        "password.html",
        status_code=status_code,
        csrf=token,
        user=caller.user,
        notice=notice,  # only after a change: the page then offers no form
        error=error,
        invalid=invalid,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(PASSWORD_PAGE)
def password_page(request: Request, caller: PasswordPageCaller, changed: bool = False) -> Response:
    if not changed:
        return _password_page(request, caller)
    notice = N_(
        "Your password has been changed. You are still signed in here; everywhere else you "
        "have been signed out."
    )
    return _password_page(request, caller, notice=notice)


@router.post(PASSWORD_PAGE)
def change_password(
    request: Request,
    caller: PasswordPageCaller,
    instance: CurrentInstance,
    session: DbSession,
    current_password: str = Form(""),
    new_password: str = Form(""),
    repeat_password: str = Form(""),
) -> Response:
    """The same service as ``POST /api/v1/auth/password``; only the repeat is checked here."""
    try:
        if new_password != repeat_password:
            raise ValidationFailed("the new passwords differ", code="password_mismatch")
        with transaction(session):
            user = session.get(User, caller.user.id)
            assert user is not None
            auth.change_password(
                session=session,
                config=instance.auth,
                user=user,
                current_password=current_password,
                new_password=new_password,
                keep_session_id=caller.session_id,
                request=caller.request,
            )
    except PolarisError as error:
        return _password_page(request, caller, status_code=error.status, error_code=error.code)
    return RedirectResponse(f"{PASSWORD_PAGE}?changed=1", status_code=303)
