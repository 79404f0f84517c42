"""What a client keeps on the server for its user: filters, account data, pushers.

Each row belongs to one user and only that user reads or writes it (the routes pass the caller's
own id; another user's id is refused before this module is reached). Not audited: these are a
client's display settings, not official records.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.chat import events as chat_events
from polaris.clock import utcnow
from polaris.matrix.body import plain_text
from polaris.matrix.models import MatrixAccountData, MatrixFilter, MatrixPusher
from polaris.web.matrix_errors import MatrixError

#: Account data types the server owns, which a client may not set through account data.
SERVER_OWNED = frozenset({"m.push_rules", "m.fully_read", "polaris.push_rule_changes"})
MAX_TYPE = 255
MAX_CONTENT_BYTES = 64 * 1024
MAX_PUSHERS = 20
#: Filter ids are row ids: anything past a 32-bit id is no filter of ours.
MAX_FILTER_ID = 2**31 - 1


def _size_ok(content: dict[str, Any]) -> None:
    if len(json.dumps(content, ensure_ascii=False).encode()) > MAX_CONTENT_BYTES:
        raise MatrixError(413, "M_TOO_LARGE", f"at most {MAX_CONTENT_BYTES} bytes of JSON")


def create_filter(session: Session, *, user_id: int, definition: dict[str, Any]) -> str:
    _size_ok(definition)
    row = MatrixFilter(user_id=user_id, definition=definition)
    session.add(row)
    session.flush()
    return str(row.id)


def get_filter(session: Session, *, user_id: int, filter_id: str) -> dict[str, Any]:
    """The user's filter; a malformed id, another user's filter and a missing one answer the
    same 404."""
    missing = MatrixError(404, "M_NOT_FOUND", "no such filter")
    if not filter_id.isascii() or not filter_id.isdigit() or int(filter_id) > MAX_FILTER_ID:
        raise missing
    row = session.get(MatrixFilter, int(filter_id))
    if row is None or row.user_id != user_id:
        raise missing
    return dict(row.definition)


def check_type(data_type: str) -> str:
    if not 1 <= len(data_type) <= MAX_TYPE or not plain_text(data_type):
        raise MatrixError(400, "M_INVALID_PARAM", "a type is 1 to 255 printable characters")
    return data_type


def get_account_data(
    session: Session, *, user_id: int, data_type: str, room_id: str = ""
) -> dict[str, Any]:
    row = session.get(MatrixAccountData, (user_id, room_id, check_type(data_type)))
    if row is None:
        raise MatrixError(404, "M_NOT_FOUND", "account data not found")
    return dict(row.content)


def put_account_data(
    session: Session,
    *,
    user_id: int,
    data_type: str,
    content: dict[str, Any],
    room_id: str = "",
    server: bool = False,
) -> None:
    """Store (or replace) one piece of account data. ``server`` is for this package's own types
    (push rules), which clients may not set directly. A global piece (no ``room_id``) appends
    ``chat.account.updated``: the user's other devices' syncs get it at once."""
    check_type(data_type)
    if data_type in SERVER_OWNED and not server:
        raise MatrixError(400, "M_BAD_JSON", f"{data_type} cannot be set through this API")
    _size_ok(content)
    row = session.get(MatrixAccountData, (user_id, room_id, data_type))
    if row is None:
        session.add(
            MatrixAccountData(user_id=user_id, room_id=room_id, type=data_type, content=content)
        )
    else:
        row.content = content
        row.updated_at = utcnow()
    session.flush()
    if not room_id:
        chat_events.account_changed(session, user_id=user_id)


def global_account_data(session: Session, *, user_id: int) -> dict[str, dict[str, Any]]:
    """Every global piece of the user's account data by type, the server's own rows left out
    (for sync, which adds ``m.push_rules`` from ``pushrules.ruleset``)."""
    rows = session.scalars(
        select(MatrixAccountData).where(
            MatrixAccountData.user_id == user_id,
            MatrixAccountData.room_id == "",
            MatrixAccountData.type.not_in(SERVER_OWNED),
        )
    )
    return {row.type: dict(row.content) for row in rows}


def list_pushers(session: Session, *, user_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(MatrixPusher).where(MatrixPusher.user_id == user_id).order_by(MatrixPusher.app_id)
    )
    return [dict(row.definition) for row in rows]


def set_pusher(session: Session, *, user_id: int, body: dict[str, Any]) -> None:
    """``POST /pushers/set``: add, replace or (``kind`` null) remove a pusher."""
    app_id, pushkey = body.get("app_id"), body.get("pushkey")
    if not isinstance(app_id, str) or not isinstance(pushkey, str):
        raise MatrixError(400, "M_MISSING_PARAM", "app_id and pushkey are required strings")
    if not 1 <= len(app_id) <= 64 or not 1 <= len(pushkey) <= 512:
        raise MatrixError(400, "M_INVALID_PARAM", "app_id is at most 64, pushkey 512 characters")
    row = session.get(MatrixPusher, (user_id, app_id, pushkey))
    if body.get("kind") is None:
        if row is not None:
            session.delete(row)
        return
    keys = ("kind", "app_id", "app_display_name", "device_display_name", "lang", "data")
    missing = [key for key in keys if key not in body]
    if missing:
        raise MatrixError(400, "M_MISSING_PARAM", f"missing: {', '.join(missing)}")
    if not isinstance(body["data"], dict):
        raise MatrixError(400, "M_BAD_JSON", "data must be an object")
    definition = {key: body[key] for key in (*keys, "pushkey", "profile_tag") if key in body}
    _size_ok(definition)
    if row is not None:
        row.definition = definition
        return
    count = len(list(session.scalars(select(MatrixPusher.app_id).where(
        MatrixPusher.user_id == user_id
    ))))  # fmt: skip
    if count >= MAX_PUSHERS:
        raise MatrixError(400, "M_LIMIT_EXCEEDED", f"at most {MAX_PUSHERS} pushers")
    session.add(
        MatrixPusher(user_id=user_id, app_id=app_id, pushkey=pushkey, definition=definition)
    )
