"""Login tokens (``m.login.token``): how a role that needs MFA signs a Matrix app in.

A password alone does not sign such a user in (``identity.auth`` stops at the second factor,
which Matrix clients cannot answer). Instead the person signs in to Polaris in a browser, with
the second factor, and mints a login token there: 256 random bits, stored as a SHA-256, usable
once within ``matrix.login_token_seconds``. The app sends it to ``/login``, which hands the
browser session's factors over to the new session (``auth.hand_over_session``). Minting, using
and a refused token are audited.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.db.uow import after_rollback
from polaris.identity.models import User
from polaris.identity.tokens import digest, new_session_token
from polaris.matrix.models import MatrixLoginToken
from polaris.web.matrix_errors import MatrixError

INVALID = "invalid or expired login token"


def mint(
    session: Session,
    *,
    user: User,
    auth_factors: str,
    lifetime: dt.timedelta,
    context: AuditContext,
) -> tuple[str, dt.datetime]:
    """A new login token for ``user`` (shown once) and when it expires."""
    secret = new_session_token()
    now = utcnow()
    row = MatrixLoginToken(
        token_hash=digest(secret),
        user_id=user.id,
        auth_factors=auth_factors,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    audit.append(
        session=session,
        context=context,
        action="matrix.login_token_create",
        object_type="user",
        object_id=str(user.id),
        detail={"expires_at": row.expires_at.isoformat()},
    )
    return secret, row.expires_at


def redeem(session: Session, *, secret: str, context: AuditContext) -> tuple[User, str]:
    """The user and factors of a live, unused token, which is used up; ``M_FORBIDDEN``
    otherwise (audited after the rollback)."""
    now = utcnow()
    row = session.scalars(
        select(MatrixLoginToken).where(MatrixLoginToken.token_hash == digest(secret))
    ).one_or_none()
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or user is None or row.used_at is not None or row.expires_at <= now:
        reason = "unknown" if row is None else "used" if row.used_at is not None else "expired"

        def _audit(later: Session) -> None:
            audit.append(
                session=later,
                context=context,
                action="matrix.login_token_refused",
                object_type="user",
                object_id=str(row.user_id) if row is not None else None,
                decision="deny",
                reason=reason,
            )

        after_rollback(session, _audit)
        raise MatrixError(403, "M_FORBIDDEN", INVALID)
    # Used up by a conditional UPDATE: of two requests racing with the same token, one wins.
    claimed = session.execute(
        update(MatrixLoginToken)
        .where(MatrixLoginToken.token_hash == row.token_hash, MatrixLoginToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise MatrixError(403, "M_FORBIDDEN", INVALID)
    return user, row.auth_factors
