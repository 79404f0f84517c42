"""Who is typing in a room: ephemeral, never in the database.

A typing notice lives for a few seconds (the client says how long, at most ``MAX_TYPING_MS``) and
is worth nothing afterwards: writing it would cost a transaction per keystroke and an audit trail
of nothing. With ``jobs.redis_url`` set, every node sees every node's notices (one sorted set per
room, user ids scored by their expiry, the key itself expiring); without it, they live in this
process's memory. Either way they expire by themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis

log = logging.getLogger("polaris.chat")

MAX_TYPING_MS = 30_000
DEFAULT_TYPING_MS = 5_000
KEY = "polaris:chat:typing:{room_id}"


class TypingBoard:
    """Typing notices per room, in Redis or in memory."""

    def __init__(self, redis_url: str | None) -> None:
        self._client: Any = (
            redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            if redis_url
            else None
        )
        self._lock = threading.Lock()
        self._memory: dict[int, dict[int, float]] = {}

    def set(self, room_id: int, user_id: int, typing: bool, timeout_ms: int) -> None:
        until = time.time() + min(max(timeout_ms, 0), MAX_TYPING_MS) / 1000
        if self._client is not None:
            key = KEY.format(room_id=room_id)
            try:
                if typing:
                    pipe = self._client.pipeline()
                    pipe.zadd(key, {str(user_id): until})
                    pipe.pexpire(key, MAX_TYPING_MS)
                    pipe.execute()
                else:
                    self._client.zrem(key, str(user_id))
                return
            except redis.RedisError as error:  # typing is worth a warning, not a failure
                log.warning("typing notice through Redis failed, kept in memory: %s", error)
        with self._lock:
            room = self._memory.setdefault(room_id, {})
            if typing:
                room[user_id] = until
            else:
                room.pop(user_id, None)

    def typing(self, room_id: int) -> list[int]:
        """The users typing in the room now, in id order."""
        now = time.time()
        if self._client is not None:
            key = KEY.format(room_id=room_id)
            try:
                self._client.zremrangebyscore(key, "-inf", now)
                return sorted(int(user) for user in self._client.zrangebyscore(key, now, "+inf"))
            except redis.RedisError as error:
                log.warning("reading typing notices from Redis failed: %s", error)
        with self._lock:
            room = self._memory.get(room_id, {})
            for user_id in [u for u, until in room.items() if until <= now]:
                del room[user_id]
            return sorted(room)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
