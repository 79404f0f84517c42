"""Chunk work spread over the cores, taken back in stream order, with a bounded window.

Why: a chunk costs AES-256-GCM, an HMAC-SHA256 (writing) and a read or an fsync'd write, which
done one chunk after another on one thread bound a large upload or download by one core. The
``cryptography`` AEAD code, ``hashlib``/``hmac`` on large buffers and file I/O all release the
GIL, so the chunks of one stream can be sealed or opened by several threads at once.

Memory stays flat in the file size: a stream has at most ``window`` chunks submitted and not yet
taken back; a producer that would exceed it first waits for the oldest (back-pressure). The
bytes held so, by every stream of the process, are counted in :data:`IN_FLIGHT` with their peak,
so that the bound is something the code states and a test checks, not an RSS reading.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")

#: Threads that seal and open chunks, shared by every stream of the process (one per core; at
#: least two so that I/O overlaps crypto on a small machine, at most eight).
WORKERS = max(2, min(8, os.cpu_count() or 2))
#: Chunks one stream may have in the pool at a time.
WINDOW = WORKERS
_POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="blob-chunks")


class Gauge:
    """Bytes held by chunk pipelines right now, and the most held at once since the last reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = 0
        self._peak = 0

    @property
    def current(self) -> int:
        return self._current

    @property
    def peak(self) -> int:
        return self._peak

    def add(self, size: int) -> None:
        with self._lock:
            self._current += size
            self._peak = max(self._peak, self._current)

    def remove(self, size: int) -> None:
        with self._lock:
            self._current -= size

    def reset_peak(self) -> None:
        with self._lock:
            self._peak = self._current


#: Plaintext bytes of the chunks submitted to the pool and not yet taken back (uploads), or
#: read ahead and not yet sent (downloads), in this process.
IN_FLIGHT = Gauge()


class OrderedWindow(Generic[T]):
    """Tasks run in the shared pool, results taken in submission order, ``size`` at most pending.

    A task's ``weight`` (the bytes it holds) counts in :data:`IN_FLIGHT` until it ends, or, with
    ``results_hold_weight`` (a read's result is the chunk), until its result is taken or the
    window cancelled. Not thread-safe: one producer (the stream's own thread) submits and takes.
    """

    def __init__(self, size: int = WINDOW, *, results_hold_weight: bool = False) -> None:
        if size < 1:
            raise ValueError("the window holds at least one task")
        self.size = size
        self._results_hold_weight = results_hold_weight
        self._pending: deque[tuple[Future[T], int]] = deque()

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.size

    def submit(self, weight: int, task: Callable[[], T]) -> None:
        """Queue ``task``, counting ``weight`` bytes in flight until it is taken back.

        The caller makes room first (:meth:`take_oldest` while :attr:`full`).
        """
        if self.full:
            raise RuntimeError("the window is full: take a result first")
        IN_FLIGHT.add(weight)
        try:
            future = _POOL.submit(task)
        except BaseException:
            IN_FLIGHT.remove(weight)
            raise
        if not self._results_hold_weight:
            # Released when the task ends, even if nobody takes its result (a writer dropped
            # after a refused upload).
            future.add_done_callback(lambda _: IN_FLIGHT.remove(weight))
        self._pending.append((future, weight))

    def oldest_done(self) -> bool:
        return bool(self._pending) and self._pending[0][0].done()

    def take_oldest(self) -> T:
        """The oldest task's result, waiting for it; its exception is raised here."""
        future, weight = self._pending.popleft()
        try:
            return future.result()
        finally:
            if self._results_hold_weight:
                IN_FLIGHT.remove(weight)

    def cancel(self) -> None:
        """Drop every pending task: those not started never run; running ones are waited for
        (so nothing of this stream still works once the caller reports its failure)."""
        while self._pending:
            future, weight = self._pending.popleft()
            future.cancel()
            # A cancelled task's outcome (CancelledError, or the failure it met) is no news.
            with contextlib.suppress(Exception):
                future.exception()
            if self._results_hold_weight:
                IN_FLIGHT.remove(weight)
