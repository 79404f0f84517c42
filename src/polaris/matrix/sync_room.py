"""One room's part of a ``/sync`` answer (``matrix.sync`` decides which rooms and rows): its
state, timeline, ephemeral events, account data and counts, and who is asking (``Caller``).

A room's new timeline (``Timeline``) is built once for every member's sync asking for the same
rows (``chat.live.Hub.shared``); everything else here is per caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.chat.live import Hub
from polaris.chat.models import STATE, ChatEvent, ChatReceipt, ChatRoom
from polaris.matrix import settings_store, sync_filter
from polaris.matrix.models import MatrixAccountData
from polaris.matrix.rooms import (
    Device,
    Translator,
    room_matrix_id,
    sent_by,
    with_transaction_ids,
)


@dataclass(frozen=True)
class Caller:
    session: Session
    actor: Actor
    context: AuditContext
    server: str
    live: Hub
    #: The syncing device: its own sends carry ``transaction_id`` (``rooms.with_transaction_ids``).
    device: Device | None = None
    #: The filter's ``lazy_load_members`` (``matrix.sync_filter``).
    lazy_members: bool = False


def state_now(rows: list[ChatEvent]) -> list[ChatEvent]:
    """The latest state row per (type, key), in timeline order."""
    latest: dict[tuple[str | None, int | None], ChatEvent] = {}
    for row in rows:
        latest[(row.state_type, row.state_key)] = row
    return sorted(latest.values(), key=lambda r: r.seq)


def receipts(c: Caller, tr: Translator, room_id: int, only: set[int] | None) -> dict[str, Any]:
    query = select(ChatReceipt).where(ChatReceipt.room_id == room_id)
    if only is not None:
        query = query.where(ChatReceipt.user_id.in_(only))
    content: dict[str, Any] = {}
    for receipt in c.session.scalars(query):
        key = c.session.scalar(
            select(ChatEvent.event_key).where(
                ChatEvent.room_id == room_id, ChatEvent.seq == receipt.up_to_seq
            )
        )
        if key is None:
            continue
        mine = content.setdefault(f"${key}", {"m.read": {}})
        mine["m.read"][tr.user(receipt.user_id)] = {"ts": int(receipt.at.timestamp() * 1000)}
    return content


def room_account_data(c: Caller, room_id: int) -> list[dict[str, Any]]:
    rows = c.session.scalars(
        select(MatrixAccountData).where(
            MatrixAccountData.user_id == c.actor.user_id,
            MatrixAccountData.room_id == room_matrix_id(room_id, c.server),
        )
    )
    return [{"type": row.type, "content": dict(row.content)} for row in rows]


def ephemeral(
    c: Caller, tr: Translator, room_id: int, receipts: dict[str, Any] | None, typing: bool
) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    if typing:
        users = [tr.user(u) for u in c.live.typing(room_id)]
        found.append({"type": "m.typing", "content": {"user_ids": users}})
    if receipts:
        found.append({"type": "m.receipt", "content": receipts})
    return {"events": found}


def invite_state(c: Caller, tr: Translator, room: ChatRoom) -> dict[str, Any]:
    rows = list(
        c.session.scalars(
            select(ChatEvent)
            .where(ChatEvent.room_id == room.id, ChatEvent.kind == STATE)
            .order_by(ChatEvent.seq)
        )
    )
    wanted = [
        r
        for r in state_now(rows)
        if r.state_type in ("create", "name", "topic")
        or (r.state_type == "member" and r.state_key == c.actor.user_id)
    ]
    stripped = [
        {k: e[k] for k in ("type", "state_key", "content", "sender")}
        for e in tr.events(wanted, room_kind=room.kind)
    ]
    return {"invite_state": {"events": stripped}}


@dataclass(frozen=True)
class Timeline:
    """A room's timeline events as Matrix gives them, and the ``seq`` of the first (None for
    none). Shared by the syncs that ask for the same rows (``Hub.shared``): never changed."""

    events: tuple[dict[str, Any], ...]
    first: int | None
    #: Event id → (sending device, transaction id) of the Matrix sends among them.
    sent: dict[str, tuple[Device, str]] = field(default_factory=dict)
    #: Who sent them (the member events a lazy-loading client is sent with them).
    senders: frozenset[int] = frozenset()

    @classmethod
    def of(cls, tr: Translator, rows: list[ChatEvent], room_kind: str) -> Timeline:
        events = tuple(tr.events(rows, room_kind=room_kind))
        sent = {
            event["event_id"]: (device, row.txn_id)
            for event, row in zip(events, rows, strict=True)
            if (device := sent_by(row)) is not None and row.txn_id is not None
        }
        senders = frozenset(row.sender_id for row in rows if row.sender_id is not None)
        return cls(events, rows[0].seq if rows else None, sent, senders)


def joined_room(
    c: Caller,
    tr: Translator,
    room: ChatRoom,
    *,
    state_rows: list[ChatEvent],
    timeline: Timeline,
    limited: bool,
    receipts: dict[str, Any] | None,
    typing: bool,
    unread: int,
    account_data: bool = True,
) -> dict[str, Any]:
    """One joined room's part of the answer. ``account_data``: whether to read and give the
    user's room account data (an initial sync, a room joined or whose account data changed
    since the token: ``chat.marker.updated``); an incremental sync gives only what changed."""
    lazy = (
        sync_filter.summary(c.session, room.id, c.actor.user_id, tr.user) if c.lazy_members else {}
    )
    prev = timeline.first if timeline.first is not None else room.last_seq + 1
    return {
        "state": {"events": tr.events(state_rows, room_kind=room.kind)},
        "timeline": {
            "events": with_transaction_ids(timeline.events, timeline.sent, c.device),
            "limited": limited,
            "prev_batch": f"t{prev}",
        },
        "ephemeral": ephemeral(c, tr, room.id, receipts, typing),
        "account_data": {"events": room_account_data(c, room.id) if account_data else []},
        "unread_notifications": {"notification_count": unread, "highlight_count": 0},
        "summary": lazy,
    }


def global_account_data(c: Caller) -> list[dict[str, Any]]:
    data = settings_store.global_account_data(c.session, user_id=c.actor.user_id)
    return [{"type": kind, "content": content} for kind, content in sorted(data.items())]
