"""``/sync``: a user's rooms, built from the chat domain's rows and read by change stream position.

A ``since`` token is ``s<position>_<typing serial>``: the change stream position (docs/events.md)
the client has seen everything up to, and the typing notices it has seen (``chat.typing_state``).

**Initial sync** (no token): the head position H is read first; then each joined room's state and
latest timeline rows. Rows whose transaction committed after H (their stream events come after H,
sequenced or not: ``events.later_events``) are cut off: the next sync brings them, so nothing is
given twice.

**Incremental sync**: the chat events after the token (``events.since``, in position order,
at most ``BATCH`` of them). Within a room, position order is ``seq`` order (the room row's lock
orders its writers, and each transaction appends its stream events after taking it), and every
transaction that adds timeline rows names its first row's ``seq`` in its stream events. So the
rows from the lowest ``seq`` the batch names, per room, up to (not including) the first ``seq``
a later stream event names are exactly the room's rows added since the token (``_new_rows``):
each is given once, in order, however long the client was away, even when a batch ends between
one transaction's stream events. A room the user joined in the batch comes with its full state;
rooms left show the leave. The user's room account data is given when it changed since the
token (``chat.marker.updated``: a moved read marker or any other put), in an initial sync, and
with a room joined in the batch. What of a filter applies is in ``matrix.sync_filter``; one
room's part of the answer is built by ``matrix.sync_room``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from polaris.access.policy import ChatAction
from polaris.chat import events as chat_events
from polaris.chat import messages
from polaris.chat import rooms as chat_rooms
from polaris.chat.models import (
    BAN,
    INVITE,
    JOIN,
    LEAVE,
    STATE,
    ChatEvent,
    ChatMember,
    ChatRoom,
)
from polaris.events import service as events
from polaris.matrix import sync_filter, sync_room
from polaris.matrix.rooms import (
    Translator,
    room_matrix_id,
)
from polaris.matrix.sync_room import Caller as Caller
from polaris.web.matrix_errors import MatrixError

TIMELINE_KINDS = (
    chat_events.ROOM_CREATED,
    chat_events.ROOM_CHANGED,
    chat_events.MEMBER_CHANGED,
    chat_events.MESSAGE_SENT,
    chat_events.MESSAGE_EDITED,
    chat_events.MESSAGE_REDACTED,
)
STREAM_KINDS = (
    *TIMELINE_KINDS,
    chat_events.RECEIPT_UPDATED,
    chat_events.MARKER_UPDATED,
    chat_events.ACCOUNT_UPDATED,
)
#: Stream events read per incremental sync; a client further behind syncs again at once.
BATCH = 500
DEFAULT_TIMELINE = sync_filter.DEFAULT_TIMELINE
#: Rows after the last one a batch names that may belong to its last transaction (a new room's
#: name and topic follow its ``create``).
TAIL = 16
_TOKEN = re.compile(r"^s(\d{1,18})_(\d{1,18})$")
#: A user's member rows and their rooms (every woken sync reads them; built once).
_MEMBERSHIPS = (
    select(ChatMember, ChatRoom)
    .join(ChatRoom, ChatRoom.id == ChatMember.room_id)
    .where(ChatMember.user_id == bindparam("user_id"))
)
#: The same for many users at once (``prefetch_memberships``).
_MEMBERSHIPS_OF = (
    select(ChatMember, ChatRoom)
    .join(ChatRoom, ChatRoom.id == ChatMember.room_id)
    .where(ChatMember.user_id.in_(bindparam("user_ids", expanding=True)))
)
#: Where ``prefetch_memberships`` keeps its rows: in the session's ``info``, which lives as long
#: as the session (a batcher's pass: one read-only transaction).
_PREFETCHED = "polaris.matrix.sync.memberships"
#: Users a prefetch reads with one statement (SQLite's limit on bound values is far above).
_PREFETCH_CHUNK = 500


@dataclass(frozen=True)
class Token:
    position: int
    serial: int

    def __str__(self) -> str:
        return f"s{self.position}_{self.serial}"


def parse_token(value: str) -> Token:
    found = _TOKEN.match(value)
    if found is None:
        raise MatrixError(400, "M_INVALID_PARAM", "unknown since token")
    return Token(int(found.group(1)), int(found.group(2)))


@dataclass
class Result:
    body: dict[str, Any]
    token: Token
    has_data: bool
    #: The rooms whose changes concern the user (any membership): what a waiting sync follows;
    #: None: every change.
    rooms: frozenset[int] | None = None


def _empty_body(token: Token) -> dict[str, Any]:
    return {
        "next_batch": str(token),
        "rooms": {"join": {}, "invite": {}, "leave": {}},
        "account_data": {"events": []},
        "presence": {"events": []},
        "to_device": {"events": []},
        "device_lists": {"changed": [], "left": []},
        "device_one_time_keys_count": {},
    }


def initial(c: Caller, *, timeline_limit: int = DEFAULT_TIMELINE) -> Result:
    head = events.head_position(c.session)
    token = Token(head, c.live.serial)
    body = _empty_body(token)
    tr = Translator(c.session, c.server)
    views = chat_rooms.my_rooms(session=c.session, actor=c.actor)
    later = events.later_events(
        c.session,
        after=head,
        subject_type="chat_room",
        subject_ids=[v.room.id for v in views],
        kinds=TIMELINE_KINDS,
    )
    cut: dict[int, int] = {}
    for found in later:
        seq = found.data.get("seq")
        if isinstance(seq, int):
            cut[found.subject_id] = min(cut.get(found.subject_id, seq), seq)
    unread = messages.unread_counts(session=c.session, actor=c.actor)
    for view in views:
        room = view.room
        limit = cut.get(room.id, room.last_seq + 1)
        matrix_id = room_matrix_id(room.id, c.server)
        if view.membership == INVITE:
            body["rooms"]["invite"][matrix_id] = sync_room.invite_state(c, tr, room)
            continue
        chat_rooms.require_room(
            session=c.session, actor=c.actor, context=c.context, room_id=room.id,
            action=ChatAction.READ,
        )  # fmt: skip
        recent = list(
            c.session.scalars(
                select(ChatEvent)
                .where(ChatEvent.room_id == room.id, ChatEvent.seq < limit)
                .order_by(ChatEvent.seq.desc())
                .limit(timeline_limit + 1)
            )
        )
        limited = len(recent) > timeline_limit
        timeline_rows = list(reversed(recent[:timeline_limit]))
        first = timeline_rows[0].seq if timeline_rows else limit
        state_rows = sync_room.state_now(
            list(
                c.session.scalars(
                    select(ChatEvent)
                    .where(
                        ChatEvent.room_id == room.id,
                        ChatEvent.kind == STATE,
                        ChatEvent.seq < first,
                    )
                    .order_by(ChatEvent.seq)
                )
            )
        )
        if c.lazy_members:
            keep = sync_filter.wanted_members((r.sender_id for r in timeline_rows), c.actor.user_id)
            state_rows = [r for r in state_rows if r.state_type != "member" or r.state_key in keep]
        body["rooms"]["join"][matrix_id] = sync_room.joined_room(
            c, tr, room, state_rows=state_rows, limited=limited,
            timeline=sync_room.Timeline.of(tr, timeline_rows, room.kind),
            receipts=sync_room.receipts(c, tr, room.id, None), typing=True,
            unread=unread.get(room.id, 0),
        )  # fmt: skip
    body["account_data"]["events"] = sync_room.global_account_data(c)
    return Result(body, token, True)


def _new_rows(c: Caller, room_id: int, named: list[int], token: Token) -> list[ChatEvent]:
    """The room's rows the batch up to ``token`` brings: from the lowest ``seq`` it names to the
    highest, and the rows after that which no later stream event names (the rest of the last
    transaction, such as a new room's name and topic after its ``create``, even when the batch
    ended between that transaction's stream events). The rows are read before the later events
    (as in :func:`initial`), so a row committed meanwhile is left to the next sync."""
    low, high = min(named), max(named)
    rows = list(
        c.session.scalars(
            select(ChatEvent)
            .where(ChatEvent.room_id == room_id, ChatEvent.seq.between(low, high + TAIL))
            .order_by(ChatEvent.seq)
        )
    )
    if not rows or rows[-1].seq <= high:
        return rows
    later = events.later_events(
        c.session,
        after=token.position,
        subject_type="chat_room",
        subject_ids=[room_id],
        kinds=TIMELINE_KINDS,
    )
    named_later = [f.data.get("seq") for f in later]
    cut = min((n for n in named_later if isinstance(n, int)), default=None)
    return [r for r in rows if r.seq <= high or cut is None or r.seq < cut]


def _new_timeline(
    c: Caller, tr: Translator, room: ChatRoom, named: list[int], token: Token
) -> sync_room.Timeline:
    """The room's new rows (``_new_rows``) as Matrix events, read and translated once for every
    sync asking for the same rows up to the same token (the members woken by one message): the
    caller was let into the room by ``require_room`` before; what is shared is only the rows."""
    key = ("matrix.timeline", c.server, room.id, min(named), max(named), token.position)
    return c.live.shared(
        key, lambda: sync_room.Timeline.of(tr, _new_rows(c, room.id, named, token), room.kind)
    )


def expired(c: Caller, since: Token) -> bool:
    """Whether events after the token were compacted away (``events.retention_days``): such a
    client is given an initial sync (each room's state and latest events, ``limited``), from
    where it pages back with ``/messages``, rather than a silent hole."""
    oldest = events.oldest_position(c.session)
    if oldest is None:
        return events.head_position(c.session) > since.position
    return oldest > since.position + 1


def _changes(
    c: Caller, since: Token, committed: int | None
) -> tuple[list[events.Event], int] | None:
    """The chat events after the token (at most ``BATCH``) and the position the answer is
    complete up to: from the hub's copy when it holds everything up to the head (read once for
    every waiter, ``chat.live``), else from the database; None when events after the token were
    compacted away. The head is ``committed`` when given (a position whose events all committed
    before this transaction began, so that its snapshot holds their rows), else read here."""
    head = committed if committed is not None else events.head_position(c.session)
    copied = c.live.recent(since.position, head, kinds=STREAM_KINDS, limit=BATCH)
    if copied is not None:
        return copied
    if expired(c, since):
        return None
    # Up to the head, as the hub's copy: on PostgreSQL each statement of a transaction sees
    # what committed before it, and a pass's member rows (``prefetch_memberships``) were read
    # before this; every event up to the head committed before the pass began.
    found = events.since(
        c.session, after=since.position, limit=BATCH, kinds=STREAM_KINDS, until=head
    )
    if len(found) == BATCH:
        return found, found[-1].position
    return found, max(head, since.position)


def prefetch_memberships(session: Session, user_ids: Collection[int]) -> None:
    """Read the member rows and rooms of every user in ``user_ids`` with one statement (per
    :data:`_PREFETCH_CHUNK` users), for the :func:`incremental` calls that follow in this
    session's transaction (``matrix.sync_batch``: a pass's woken answers). One member's rows
    read alone were two thirds of a woken answer's Python work, nearly all of it the
    statement's own cost rather than its rows'; a user with no rooms is kept as having none.

    The rows are older than anything a build reads after them on PostgreSQL, where each
    statement of the pass sees what committed before it (SQLite's pass is one snapshot): an
    answer reads the stream only up to a head known committed before the pass began
    (``_changes``), so every membership change it hands over is in these rows."""
    wanted = sorted(set(user_ids))
    kept: dict[int, list[tuple[ChatMember, ChatRoom]]] = session.info.setdefault(_PREFETCHED, {})
    for start in range(0, len(wanted), _PREFETCH_CHUNK):
        chunk = wanted[start : start + _PREFETCH_CHUNK]
        for user_id in chunk:
            kept[user_id] = []
        for member_row, room_row in session.execute(_MEMBERSHIPS_OF, {"user_ids": chunk}):
            kept[member_row.user_id].append((member_row, room_row))


def _memberships_of(session: Session, user_id: int) -> Sequence[tuple[ChatMember, ChatRoom]]:
    """The user's member rows with their rooms: prefetched for this session, or read now."""
    kept = session.info.get(_PREFETCHED)
    if kept is not None and (rows := kept.get(user_id)) is not None:
        return cast("list[tuple[ChatMember, ChatRoom]]", rows)
    return session.execute(_MEMBERSHIPS, {"user_id": user_id}).all()


def incremental(c: Caller, since: Token, *, committed: int | None = None) -> Result:
    """The changes after ``since``; ``committed``: see ``_changes``."""
    serial = c.live.serial
    changes = _changes(c, since, committed)
    if changes is None:
        return initial(c)
    found, complete = changes
    token = Token(max(complete, found[-1].position if found else 0), serial)
    body = _empty_body(token)
    tr = Translator(c.session, c.server)
    seqs: dict[int, list[int]] = defaultdict(list)
    mine: dict[int, list[int]] = defaultdict(list)
    read_by: dict[int, set[int]] = defaultdict(set)
    marked: set[int] = set()  # rooms whose account data (the read marker among it) the user changed
    account = False  # whether the user's global account data changed
    for event in found:
        room_id = event.subject_id
        seq, user = event.data.get("seq"), event.data.get("user_id")
        if event.kind == chat_events.ACCOUNT_UPDATED:
            account = account or user == c.actor.user_id
            continue
        if event.kind == chat_events.MARKER_UPDATED:
            if user == c.actor.user_id:
                marked.add(room_id)
            continue
        if event.kind == chat_events.RECEIPT_UPDATED:
            if isinstance(user, int):
                read_by[room_id].add(user)
            continue
        if isinstance(seq, int):
            seqs[room_id].append(seq)
            if event.kind == chat_events.MEMBER_CHANGED and user == c.actor.user_id:
                mine[room_id].append(seq)
    # The member rows with their rooms, in one statement (``require_room``'s facts find both in
    # the session's identity map, which holds them while ``rooms`` does).
    memberships: dict[int, ChatMember] = {}
    rooms: dict[int, ChatRoom] = {}
    for member_row, room_row in _memberships_of(c.session, c.actor.user_id):
        memberships[member_row.room_id] = member_row
        rooms[room_row.id] = room_row
    joined = [r for r, m in memberships.items() if m.membership == JOIN]
    typing_rooms = {r for r in joined if c.live.typing_changed(r, since.serial)}
    touched = sorted(set(seqs) | set(read_by) | typing_rooms | marked)
    # The kept unread counts (``chat.unread``) are on the member rows just read: the same
    # numbers ``messages.unread_counts`` reads, without a statement of their own.
    unread = {r: m.unread for r, m in memberships.items() if m.membership == JOIN}
    has_data = False
    for room_id in touched:
        member, room = memberships.get(room_id), rooms.get(room_id)
        if member is None or room is None:
            continue
        matrix_id = room_matrix_id(room_id, c.server)
        if member.membership == INVITE and mine.get(room_id):
            body["rooms"]["invite"][matrix_id] = sync_room.invite_state(c, tr, room)
            has_data = True
            continue
        if member.membership in (LEAVE, BAN) and mine.get(room_id):
            rows = list(
                c.session.scalars(
                    select(ChatEvent)
                    .where(ChatEvent.room_id == room_id, ChatEvent.seq.in_(mine[room_id]))
                    .order_by(ChatEvent.seq)
                )
            )
            body["rooms"]["leave"][matrix_id] = {
                "state": {"events": []},
                "timeline": {
                    "events": tr.events(rows, room_kind=room.kind),
                    "limited": False,
                    "prev_batch": f"t{rows[0].seq if rows else room.last_seq + 1}",
                },
                "account_data": {"events": []},
            }
            has_data = True
            continue
        if member.membership != JOIN:
            continue
        chat_rooms.require_room(
            session=c.session, actor=c.actor, context=c.context, room_id=room_id,
            action=ChatAction.READ,
        )  # fmt: skip
        timeline = sync_room.Timeline((), None)
        if named := seqs.get(room_id):
            timeline = _new_timeline(c, tr, room, named, token)
        state_rows: list[ChatEvent] = []
        if mine.get(room_id):  # joined in this batch: the room's state before the timeline
            first = timeline.first if timeline.first is not None else room.last_seq + 1
            state_rows = sync_room.state_now(
                list(
                    c.session.scalars(
                        select(ChatEvent)
                        .where(
                            ChatEvent.room_id == room_id,
                            ChatEvent.kind == STATE,
                            ChatEvent.seq < first,
                        )
                        .order_by(ChatEvent.seq)
                    )
                )
            )
        if c.lazy_members and timeline.senders:  # the senders' member events, before the timeline
            keep = sync_filter.wanted_members(timeline.senders, c.actor.user_id)
            if mine.get(room_id):
                state_rows = [
                    r for r in state_rows if r.state_type != "member" or r.state_key in keep
                ]
            else:
                state_rows = sync_filter.member_rows(c.session, room_id, keep, timeline.first)
        receipts = (
            sync_room.receipts(c, tr, room_id, read_by[room_id]) if read_by.get(room_id) else None
        )
        body["rooms"]["join"][matrix_id] = sync_room.joined_room(
            c, tr, room, state_rows=state_rows, timeline=timeline, limited=False,
            receipts=receipts, typing=room_id in typing_rooms, unread=unread.get(room_id, 0),
            account_data=room_id in marked or bool(mine.get(room_id)),
        )  # fmt: skip
        has_data = True
    if account:  # all of it, as an initial sync gives it: clients replace each type they get
        body["account_data"]["events"] = sync_room.global_account_data(c)
        has_data = True
    follow = frozenset(r for r, m in memberships.items() if m.membership in (JOIN, INVITE))
    return Result(body, token, has_data, follow)
