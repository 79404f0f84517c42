"""Matrix devices: one per login, each holding the identity session its access token is.

Signing in, out and ending sessions stay ``identity.auth``'s (throttling, MFA rules, timeouts,
audit); this module keeps the device rows beside them and audits what only Matrix does (renaming
and deleting devices, logging every device out).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.identity import auth
from polaris.identity.models import User, UserSession
from polaris.identity.tokens import digest
from polaris.matrix.body import plain_text
from polaris.matrix.ids import new_device_id
from polaris.matrix.models import MatrixDevice
from polaris.web.matrix_errors import MatrixError

MAX_DEVICE_ID = 64
MAX_DISPLAY_NAME = 255


def check_device_id(device_id: str) -> str:
    if not 1 <= len(device_id) <= MAX_DEVICE_ID or not plain_text(device_id):
        raise MatrixError(400, "M_INVALID_PARAM", "a device id is 1 to 64 printable characters")
    return device_id


def check_display_name(name: str | None) -> str | None:
    if name is None:
        return None
    if len(name) > MAX_DISPLAY_NAME or not plain_text(name):
        raise MatrixError(400, "M_INVALID_PARAM", "a device name is at most 255 characters")
    return name


def register(
    session: Session,
    *,
    user: User,
    token: str,
    device_id: str | None,
    display_name: str | None,
) -> MatrixDevice:
    """The device of a new login. A device id the user already has gets the new session; the
    old session ends (its token is worth nothing from now on)."""
    session_id = digest(token)
    if device_id is not None:
        existing = session.scalars(
            select(MatrixDevice).where(
                MatrixDevice.user_id == user.id, MatrixDevice.device_id == device_id
            )
        ).one_or_none()
        if existing is not None:
            auth.end_sessions(session=session, session_ids=[existing.session_id], reason="relogin")
            existing.session_id = session_id
            if display_name is not None:
                existing.display_name = display_name
            session.flush()
            return existing
    device = MatrixDevice(
        user_id=user.id,
        device_id=device_id or new_device_id(),
        display_name=display_name,
        session_id=session_id,
    )
    session.add(device)
    session.flush()
    return device


def device_of_token(session: Session, token: str) -> MatrixDevice | None:
    return session.scalars(
        select(MatrixDevice).where(MatrixDevice.session_id == digest(token))
    ).one_or_none()


@dataclass(frozen=True)
class DeviceView:
    device_id: str
    display_name: str | None
    last_seen_ip: str | None
    last_seen_at: dt.datetime | None

    def as_json(self) -> dict[str, object]:
        # Every key present, null when unknown: the spec makes them optional, but matrix-nio's
        # schema requires all three and refuses the whole device list without them.
        seen = self.last_seen_at
        return {
            "device_id": self.device_id,
            "display_name": self.display_name,
            "last_seen_ip": self.last_seen_ip,
            "last_seen_ts": int(seen.timestamp() * 1000) if seen is not None else None,
        }


def _views(session: Session, user_id: int, device_id: str | None = None) -> list[DeviceView]:
    """The user's devices whose sessions are live: a device whose session ended (idle,
    absolute timeout, ended by an administrator) is not signed in and is not listed."""
    statement = (
        select(MatrixDevice, UserSession)
        .join(UserSession, UserSession.id == MatrixDevice.session_id)
        .where(
            MatrixDevice.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.expires_at > utcnow(),
        )
        .order_by(MatrixDevice.device_id)
    )
    if device_id is not None:
        statement = statement.where(MatrixDevice.device_id == device_id)
    return [
        DeviceView(
            device_id=device.device_id,
            display_name=device.display_name,
            last_seen_ip=row.source_address,
            last_seen_at=row.last_seen_at,
        )
        for device, row in session.execute(statement).tuples()
    ]


def list_devices(session: Session, user_id: int) -> list[DeviceView]:
    return _views(session, user_id)


def get_device(session: Session, user_id: int, device_id: str) -> DeviceView:
    found = _views(session, user_id, device_id)
    if not found:
        raise MatrixError(404, "M_NOT_FOUND", "no such device")
    return found[0]


def _own(session: Session, user_id: int, device_id: str) -> MatrixDevice:
    device = session.scalars(
        select(MatrixDevice).where(
            MatrixDevice.user_id == user_id, MatrixDevice.device_id == device_id
        )
    ).one_or_none()
    if device is None:
        raise MatrixError(404, "M_NOT_FOUND", "no such device")
    return device


def rename(
    session: Session, *, user_id: int, device_id: str, name: str | None, context: AuditContext
) -> None:
    device = _own(session, user_id, device_id)
    device.display_name = check_display_name(name)
    audit.append(
        session=session,
        context=context,
        action="matrix.device_rename",
        object_type="matrix_device",
        object_id=device_id,
    )


def delete_devices(
    session: Session, *, user_id: int, device_ids: list[str], context: AuditContext
) -> None:
    """Delete these devices of the user (unknown ids are skipped, as the spec asks) and end
    their sessions."""
    found = list(
        session.scalars(
            select(MatrixDevice).where(
                MatrixDevice.user_id == user_id, MatrixDevice.device_id.in_(device_ids)
            )
        )
    )
    auth.end_sessions(
        session=session, session_ids=[d.session_id for d in found], reason="device_deleted"
    )
    for device in found:
        session.delete(device)
        audit.append(
            session=session,
            context=context,
            action="matrix.device_delete",
            object_type="matrix_device",
            object_id=device.device_id,
        )


def logout_all(session: Session, *, user_id: int, context: AuditContext) -> int:
    """End every Matrix session of the user and delete its devices; how many there were."""
    found = list(session.scalars(select(MatrixDevice).where(MatrixDevice.user_id == user_id)))
    auth.end_sessions(
        session=session, session_ids=[d.session_id for d in found], reason="logout_all"
    )
    session.execute(delete(MatrixDevice).where(MatrixDevice.user_id == user_id))
    audit.append(
        session=session,
        context=context,
        action="matrix.logout_all",
        object_type="user",
        object_id=str(user_id),
        detail={"devices": len(found)},
    )
    return len(found)


def forget(session: Session, device: MatrixDevice) -> None:
    """Delete the device of a session that logged out (``auth.logout`` ended and audited it)."""
    session.delete(device)
