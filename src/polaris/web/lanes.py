"""Thread lanes: a few threads of their own for short thread work that arrives in bursts.

Starlette runs a route's synchronous work on anyio's shared pool of 40 threads. A message in a
room wakes every member's waiting ``/sync`` at once, and each woken sync is a handful of short
SQL statements. Run on 40 threads at once, every statement gives up the GIL inside SQLite and must
win it back from the 39 others: each thread's work then costs about twice its CPU (the
hand-offs, the caches each switch cools) and every answer waits behind all the others. Run two
at a time, the same work finishes sooner for nearly every client. Measured with
``bench/chat.py --only polaris --clients 200`` (docs/chat.md, "Benchmark"): server CPU a
delivery 3.4 ms on the shared pool, 2.6 ms on a lane of two; delivery p99 2.6 s and 0.8 s.

A lane is a pool of its own threads (``concurrent.futures``), shared by every event loop of the
process: the calls beyond its threads queue in arrival order. It hands work over with
``loop.run_in_executor`` rather than through anyio's limiter (a third of the hand-over's CPU
there went to anyio's cancel scopes and task lookups), keeping what Starlette's thread calls
promise: the call sees the request's context variables, and a request cancelled while its call
runs waits for the call to end before its own clean-up (which closes what the call uses).
Work that may wait long (a lock, a large read) does not belong in a lane: everything behind it
would wait too.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Lane:
    """At most ``threads`` calls of this lane run at once; the rest queue in arrival order."""

    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"lane-{name}")

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``func(*args, **kwargs)`` on one of the lane's threads, in the caller's context."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        call = functools.partial(context.run, func, *args, **kwargs)
        future = loop.run_in_executor(self._pool, call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # A thread cannot be stopped: the request's clean-up waits for its call to end.
            while not future.done():
                try:
                    await asyncio.wait([future])
                except asyncio.CancelledError:
                    continue
            raise

    @property
    def queued(self) -> int:
        """Calls waiting for a thread (for the tests)."""
        return self._pool._work_queue.qsize()


#: The syncs' lane: a woken long-poll's reads and a new long-poll's first look (Matrix ``/sync``
#: and the messenger's own sync and WebSocket). Initial syncs, which can be large, stay on the
#: shared pool.
SYNC = Lane(2, "sync")
