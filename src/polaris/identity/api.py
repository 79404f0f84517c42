"""JSON routes of identity: sign-in, MFA, sign-out, password, API tokens, and user administration.

Routes are thin: read input, run one service call in a transaction, shape the answer. The caller
dependency of each route says what it needs (``polaris.deps``): the sign-in steps take no token,
tokens and the password need a signed-in session, administration an administrator.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from polaris.db.uow import transaction
from polaris.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AdminCaller,
    CurrentCaller,
    CurrentInstance,
    DbSession,
    Info,
    NoToken,
    PasswordCaller,
    SessionCaller,
    check_csrf,
    set_session_cookies,
)
from polaris.errors import NotAuthenticated
from polaris.identity import auth, program_tokens, second_factor, users
from polaris.identity.models import ApiToken, Unit, User
from polaris.identity.schemas import (
    CodeRequest,
    EnrolmentConfirmed,
    EnrolmentStarted,
    EnrolRequest,
    LoginRequest,
    PasswordChange,
    PasswordResetDone,
    SessionRead,
    SignInState,
    TokenCreate,
    TokenIssued,
    TokenRead,
    UnitRead,
    UserRead,
)
from polaris.web.params import Id

router = APIRouter(tags=["identity"])


def _cookie_token(request: Request) -> str:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotAuthenticated("sign in first", code="not_authenticated")
    check_csrf(request)
    return token


@router.post("/auth/login", response_model=SignInState, dependencies=[NoToken])
def login(
    body: LoginRequest,
    response: Response,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
) -> SignInState:
    with transaction(session):
        step = auth.login(
            session=session,
            config=instance.auth,
            username=body.username,
            password=body.password,
            request=info,
        )
    csrf = set_session_cookies(response, instance, step.token)
    return SignInState(
        stage=step.stage,
        expires_at=step.expires_at,
        csrf_token=csrf,
        must_change_password=step.user.must_change_password,
    )


@router.post("/auth/mfa", response_model=SignInState, dependencies=[NoToken])
def verify_mfa(
    body: CodeRequest,
    request: Request,
    response: Response,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
) -> SignInState:
    token = _cookie_token(request)
    with transaction(session):
        step = second_factor.verify_mfa(
            session=session, config=instance.auth, token=token, code=body.code, request=info
        )
    csrf = set_session_cookies(response, instance, step.token)
    return SignInState(
        stage=step.stage,
        expires_at=step.expires_at,
        csrf_token=csrf,
        must_change_password=step.user.must_change_password,
    )


@router.post("/auth/mfa/enrol", response_model=EnrolmentStarted, dependencies=[NoToken])
def begin_enrolment(
    body: EnrolRequest, request: Request, instance: CurrentInstance, session: DbSession, info: Info
) -> EnrolmentStarted:
    token = _cookie_token(request)
    with transaction(session):
        started = second_factor.begin_enrolment(
            session=session, config=instance.auth, token=token, password=body.password, request=info
        )
    return EnrolmentStarted(secret=started.secret, provisioning_uri=started.provisioning_uri)


@router.post("/auth/mfa/confirm", response_model=EnrolmentConfirmed, dependencies=[NoToken])
def confirm_enrolment(
    body: CodeRequest,
    request: Request,
    response: Response,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
) -> EnrolmentConfirmed:
    token = _cookie_token(request)
    with transaction(session):
        done = second_factor.confirm_enrolment(
            session=session, config=instance.auth, token=token, code=body.code, request=info
        )
    if done.step is None:
        return EnrolmentConfirmed(recovery_codes=done.recovery_codes, stage="active")
    csrf = set_session_cookies(response, instance, done.step.token)
    return EnrolmentConfirmed(recovery_codes=done.recovery_codes, stage="active", csrf_token=csrf)


@router.post("/auth/logout", status_code=204, dependencies=[NoToken])
def logout(
    request: Request, response: Response, instance: CurrentInstance, session: DbSession, info: Info
) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        check_csrf(request)
        with transaction(session):
            auth.logout(session=session, config=instance.auth, token=token, request=info)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.post("/auth/password", status_code=204)
def change_password(
    body: PasswordChange, caller: PasswordCaller, instance: CurrentInstance, session: DbSession
) -> None:
    with transaction(session):
        user = session.get(User, caller.user.id)
        assert user is not None
        auth.change_password(
            session=session,
            config=instance.auth,
            user=user,
            current_password=body.current_password,
            new_password=body.new_password,
            keep_session_id=caller.session_id,
            request=caller.request,
        )


def _user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        rank=user.rank,
        unit_id=user.unit_id,
        unit_code=user.unit.code,
        role=user.role_code,
        clearance=["unclassified", "restricted", "confidential", "secret"][user.clearance],
        mfa_enabled=user.mfa_enabled_at is not None,
        disabled=user.disabled_at is not None,
    )


@router.get("/me", response_model=UserRead)
def me(caller: CurrentCaller) -> UserRead:
    return _user_read(caller.user)


def _token_read(token: ApiToken) -> TokenRead:
    return TokenRead(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scopes=token.scopes,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked=token.revoked_at is not None,
    )


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(caller: SessionCaller, session: DbSession) -> list[TokenRead]:
    return [_token_read(t) for t in program_tokens.list_tokens(session=session, user=caller.user)]


@router.post("/tokens", response_model=TokenIssued, status_code=201)
def create_token(body: TokenCreate, caller: SessionCaller, session: DbSession) -> TokenIssued:
    with transaction(session):
        user = session.get(User, caller.user.id)
        assert user is not None
        issued = program_tokens.create_token(
            session=session,
            user=user,
            name=body.name,
            scopes=body.scopes,
            lifetime_days=body.lifetime_days,
            context=caller.context,
        )
    return TokenIssued(**_token_read(issued.token).model_dump(), token=issued.secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: Id, caller: SessionCaller, session: DbSession) -> None:
    with transaction(session):
        program_tokens.revoke_token(
            session=session,
            user=caller.user,
            token_id=token_id,
            context=caller.context,
        )


@router.get("/units", response_model=list[UnitRead])
def list_units(caller: CurrentCaller, session: DbSession) -> list[UnitRead]:
    """The whole unit tree: office names are not secret inside the force."""
    return [
        UnitRead(
            id=u.id, code=u.code, name=u.name, name_hi=u.name_hi, kind=u.kind, parent_id=u.parent_id
        )
        for u in session.scalars(select(Unit).order_by(Unit.id))
    ]


@router.get("/admin/users", response_model=list[UserRead])
def admin_list_users(caller: AdminCaller, session: DbSession) -> list[UserRead]:
    return [_user_read(u) for u in session.scalars(select(User).order_by(User.username))]


@router.post("/admin/users/{username}/disable", response_model=UserRead)
def admin_disable(username: str, caller: AdminCaller, session: DbSession) -> UserRead:
    with transaction(session):
        user = users.disable_user(session=session, username=username, context=caller.context)
    return _user_read(user)


@router.post("/admin/users/{username}/reset-mfa", response_model=UserRead)
def admin_reset_mfa(username: str, caller: AdminCaller, session: DbSession) -> UserRead:
    with transaction(session):
        user = users.reset_mfa(session=session, username=username, context=caller.context)
    return _user_read(user)


@router.post("/admin/users/{username}/reset-password", response_model=PasswordResetDone)
def admin_reset_password(
    username: str, caller: AdminCaller, instance: CurrentInstance, session: DbSession
) -> PasswordResetDone:
    with transaction(session):
        generated = users.reset_password(
            session=session,
            username=username,
            passwords=instance.auth.passwords,
            context=caller.context,
        )
    return PasswordResetDone(generated_password=generated)


@router.get("/admin/users/{username}/sessions", response_model=list[SessionRead])
def admin_list_sessions(
    username: str, caller: AdminCaller, session: DbSession
) -> list[SessionRead]:
    user = users.get_by_username(session=session, username=username)
    return [
        SessionRead(
            id=row.id,
            stage=row.stage,
            auth_factors=row.auth_factors,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            source_address=row.source_address,
            client=row.client,
        )
        for row in auth.live_sessions(session=session, user_id=user.id)
    ]


@router.delete("/admin/sessions/{session_id}", status_code=204)
def admin_end_session(session_id: str, caller: AdminCaller, session: DbSession) -> None:
    with transaction(session):
        auth.end_session(
            session=session,
            session_id=session_id,
            context=caller.context,
        )
