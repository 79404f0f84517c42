"""Who waits in the chat hub (``chat.live``) and how they are woken: each waiter names the rooms
it follows and its user; the index finds the waiters a batch of events concerns without asking
every one; waking resolves a waiter's future on its own event loop (from any thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from polaris.chat import events as chat_events
from polaris.events import service as events


def room_of(event: events.Event) -> int | None:
    """The room a chat event is about (its subject, or the room it names); None for one about a
    user alone (their account data)."""
    if event.subject_type == chat_events.USER_SUBJECT:
        return None
    room_id = event.data.get("room_id")
    return room_id if isinstance(room_id, int) else event.subject_id


def about_user(event: events.Event) -> int | None:
    """The user a membership event is about (an invitation, a join, a removal), or whose own
    account data changed."""
    user = event.data.get("user_id")
    about = event.kind in (chat_events.MEMBER_CHANGED, chat_events.ACCOUNT_UPDATED)
    return user if about and isinstance(user, int) else None


@dataclass(eq=False)
class Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    position: int
    #: The rooms it follows; None: every chat event wakes it.
    rooms: frozenset[int] | None
    user_id: int | None
    #: The typing serial it has seen; None: typing does not wake it.
    serial: int | None = None

    def concerned(self, event: events.Event) -> bool:
        if event.position <= self.position:
            return False
        if self.rooms is None or room_of(event) in self.rooms:
            return True
        return self.user_id is not None and about_user(event) == self.user_id


@dataclass
class WaiterIndex:
    """The waiters by what wakes them."""

    members: set[Waiter] = field(default_factory=set)
    by_room: dict[int, set[Waiter]] = field(default_factory=dict)
    by_user: dict[int, set[Waiter]] = field(default_factory=dict)
    everything: set[Waiter] = field(default_factory=set)

    def add(self, waiter: Waiter) -> None:
        self.members.add(waiter)
        if waiter.rooms is None:
            self.everything.add(waiter)
            return
        for room_id in waiter.rooms:
            self.by_room.setdefault(room_id, set()).add(waiter)
        if waiter.user_id is not None:
            self.by_user.setdefault(waiter.user_id, set()).add(waiter)

    def remove(self, waiter: Waiter) -> None:
        if waiter not in self.members:
            return
        self.members.discard(waiter)
        self.everything.discard(waiter)
        for room_id in waiter.rooms or ():
            _discard(self.by_room, room_id, waiter)
        if waiter.user_id is not None:
            _discard(self.by_user, waiter.user_id, waiter)

    def concerned(self, batch: list[events.Event]) -> set[Waiter]:
        """The waiters some event of the batch concerns (looked up by room and user)."""
        woken: set[Waiter] = set()
        candidates = set(self.everything)
        for event in batch:
            room = room_of(event)
            if room is not None:
                candidates |= self.by_room.get(room, set())
            user = about_user(event)
            if user is not None:
                candidates |= self.by_user.get(user, set())
        for waiter in candidates:
            if any(waiter.concerned(e) for e in batch):
                woken.add(waiter)
        return woken

    def of_room(self, room_id: int) -> set[Waiter]:
        return self.everything | self.by_room.get(room_id, set())


def _discard(index: dict[int, set[Waiter]], key: int, waiter: Waiter) -> None:
    found = index.get(key)
    if found is not None:
        found.discard(waiter)
        if not found:
            del index[key]


def resolve_all(woken: Iterable[Waiter]) -> None:
    for waiter in woken:
        try:
            waiter.loop.call_soon_threadsafe(_resolve, waiter.future)
        except RuntimeError:  # that loop has closed
            continue


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
