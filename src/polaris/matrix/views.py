"""The page that signs a Matrix app in after a browser sign-in (``/account/matrix``).

A role that needs MFA cannot sign an app in with a password (the app cannot answer the second
factor). The person signs in here, with the second factor, and either

- an app that offers single sign-on sends them here (``/_matrix/client/v3/login/sso/redirect``
  → this page with ``redirect_url``): after they allow it, the page sends the browser back to the
  app with a one-time ``loginToken``, which the app redeems at ``/login`` (``m.login.token``);
- or they press "Make a login token" and give the token to the app by hand.

The page shows where the token will go before anything is minted, so that a link made by someone
else cannot take it unseen. Minting is audited (``matrix.login_tokens``).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.matrix import login_tokens
from polaris.matrix.ids import base_url
from polaris.matrix.redirects import PAGE, usable_redirect, with_login_token
from polaris.web.pages import PageCaller, form_csrf
from polaris.web.templating import render

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    caller: PageCaller,
    instance: CurrentInstance,
    *,
    redirect_url: str | None = None,
    bad_redirect: bool = False,
    token: str | None = None,
    expires_at: dt.datetime | None = None,
    status_code: int = 200,
) -> Response:
    csrf, _ = form_csrf(request)
    response = render(
        request,
        "matrix_app.html",
        status_code=status_code,
        csrf=csrf,
        user=caller.user,
        server_url=base_url(instance.settings, request),
        redirect_url=redirect_url,
        bad_redirect=bad_redirect,
        token=token,
        expires_at=expires_at,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(PAGE)
def matrix_page(
    request: Request,
    caller: PageCaller,
    instance: CurrentInstance,
    redirect_url: str | None = None,
) -> Response:
    usable = usable_redirect(redirect_url)
    bad = redirect_url is not None and usable is None
    return _page(
        request, caller, instance, redirect_url=usable, bad_redirect=bad,
        status_code=400 if bad else 200,
    )  # fmt: skip


@router.post(PAGE)
def mint(
    request: Request,
    caller: PageCaller,
    instance: CurrentInstance,
    session: DbSession,
    redirect_url: str = Form(""),
) -> Response:
    """Mint a login token; send it to the app that asked, or show it."""
    usable = usable_redirect(redirect_url) if redirect_url else None
    if redirect_url and usable is None:
        return _page(request, caller, instance, bad_redirect=True, status_code=400)
    lifetime = dt.timedelta(seconds=instance.settings.matrix.login_token_seconds)
    with transaction(session):
        token, expires_at = login_tokens.mint(
            session,
            user=caller.user,
            auth_factors=caller.actor.auth_factors,
            lifetime=lifetime,
            context=caller.context,
        )
    if usable is not None:
        return RedirectResponse(with_login_token(usable, token), status_code=303)
    return _page(request, caller, instance, token=token, expires_at=expires_at)
