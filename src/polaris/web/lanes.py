"""Thread lanes: a few threads of their own for short thread work that arrives in bursts.

Starlette runs a route's synchronous work on anyio's shared pool of 40 threads. A message in a
room wakes every member's waiting ``/sync`` at once, and each woken sync is a handful of short
SQL statements. Run on 40 threads at once, every statement gives up the GIL inside SQLite and must
win it back from the 39 others: each thread's work then costs about twice its CPU (the
hand-offs, the caches each switch cools) and every answer waits behind all the others. Run two
at a time, the same work finishes sooner for nearly every client. Measured with
``bench/chat.py --only polaris --clients 200`` (docs/chat.md, "Benchmark"): server CPU a
delivery 3.4 ms on the shared pool, 2.6 ms on a lane of two; delivery p99 2.6 s and 0.8 s.

A lane is a limiter on anyio's threads, one per event loop (a limiter's waiters belong to the
loop that made them: the test client runs a loop per client). Work that may wait long (a lock,
a large read) does not belong in a lane: everything behind it would wait too.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")


class Lane:
    """At most ``threads`` calls of this lane run at once, per event loop; the rest queue in
    arrival order (anyio's limiter is first come, first served)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limiters: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, anyio.CapacityLimiter
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _limiter(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._limiters.get(loop)
            if found is None:
                found = self._limiters[loop] = anyio.CapacityLimiter(self.threads)
            return found

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``func(*args, **kwargs)`` on a worker thread, within the lane's limit."""
        call = functools.partial(func, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter())


#: The syncs' lane: a woken long-poll's reads and a new long-poll's first look (Matrix ``/sync``
#: and the messenger's own sync and WebSocket). Initial syncs, which can be large, stay on the
#: shared pool.
SYNC = Lane(2)
