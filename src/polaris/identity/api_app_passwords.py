"""JSON routes of app passwords (``identity.app_passwords``): make, list, revoke.

Session only, as API tokens: a token or an app password can never mint another credential, and
the session has passed MFA where the role requires it.
"""

from __future__ import annotations

from fastapi import APIRouter

from polaris.db.uow import transaction
from polaris.deps import DbSession, SessionCaller
from polaris.identity import app_passwords
from polaris.identity.models import AppPassword, User
from polaris.identity.schemas import AppPasswordCreate, AppPasswordIssued, AppPasswordRead
from polaris.web.params import Id

router = APIRouter(tags=["identity"])


def _read(row: AppPassword) -> AppPasswordRead:
    return AppPasswordRead(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scope=row.scope,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked_at is not None,
    )


@router.get("/app-passwords", response_model=list[AppPasswordRead])
def list_app_passwords(caller: SessionCaller, session: DbSession) -> list[AppPasswordRead]:
    with transaction(session, read_only=True):
        return [_read(row) for row in app_passwords.list_for(session=session, user=caller.user)]


@router.post("/app-passwords", response_model=AppPasswordIssued, status_code=201)
def create_app_password(
    body: AppPasswordCreate, caller: SessionCaller, session: DbSession
) -> AppPasswordIssued:
    """A password for one device's WebDAV client, shown in this answer only."""
    with transaction(session):
        user = session.get(User, caller.user.id)
        assert user is not None
        issued = app_passwords.create(
            session=session, user=user, name=body.name, scope=body.scope, context=caller.context
        )
    return AppPasswordIssued(**_read(issued.row).model_dump(), password=issued.secret)


@router.delete("/app-passwords/{password_id}", status_code=204)
def revoke_app_password(password_id: Id, caller: SessionCaller, session: DbSession) -> None:
    with transaction(session):
        app_passwords.revoke(
            session=session, user=caller.user, password_id=password_id, context=caller.context
        )
