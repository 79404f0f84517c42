"""Chunk work spread over the cores, taken back in stream order, with a bounded window.

Why: a chunk costs AES-256-GCM, an HMAC-SHA256 (writing) and a read or an fsync'd write, which
done one chunk after another on one thread bound a large upload or download by one core. The
``cryptography`` AEAD code, ``hashlib``/``hmac`` on large buffers and file I/O all release the
GIL, so the chunks of one stream can be sealed or opened by several threads at once.

Memory stays flat in the file size: a stream has at most ``window`` chunks submitted and not yet
taken back; a producer that would exceed it first waits for the oldest (back-pressure). The
bytes held so, by every stream of the process, are counted in :data:`IN_FLIGHT` with their peak,
so that the bound is something the code states and a test checks, not an RSS reading.

Every chunk passes through a few buffers of its size (the file read, the plaintext, the sealed
copy), allocated in one thread and freed in another. With glibc's default policy a buffer of
4 MiB is a fresh ``mmap``, or comes from a thread's heap that was trimmed back to the system
since, so every page of it faults in and is zeroed again: measured, 13 times the page faults and
about 1.8 times the CPU of a download. :func:`keep_chunk_buffers_in_heaps` (run on import) makes
such buffers come from malloc's heaps and stay there between chunks.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
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
#: Buffers below this come from malloc's heaps rather than their own ``mmap`` (glibc's
#: ``M_MMAP_THRESHOLD``; a chunk is at most 4 MiB plus 42 bytes).
MMAP_THRESHOLD = 16 * 1024 * 1024
#: A heap gives memory back to the system only when this much is free at its top
#: (``M_TRIM_THRESHOLD``): a few chunks' worth stays for the next chunks.
TRIM_THRESHOLD = 32 * 1024 * 1024
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_chunk_buffers_in_heaps() -> bool:
    """Set glibc's mmap and trim thresholds for chunk-sized buffers; True if set.

    Does nothing on another C library, or when the operator set either threshold in the
    environment (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``): theirs stands. The cost
    is memory kept by the process after a large transfer: at most ``TRIM_THRESHOLD`` free at the
    top of each malloc heap, flat in the file size.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & os.environ.keys():
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


keep_chunk_buffers_in_heaps()


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
        run = task if self._results_hold_weight else _releasing(task, weight)
        try:
            future = _POOL.submit(run)
        except BaseException:
            IN_FLIGHT.remove(weight)
            raise
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
            never_ran = future.cancel()
            # A cancelled task's outcome (CancelledError, or the failure it met) is no news.
            with contextlib.suppress(Exception):
                future.exception()
            if self._results_hold_weight or never_ran:
                IN_FLIGHT.remove(weight)


def _releasing(task: Callable[[], T], weight: int) -> Callable[[], T]:
    """``task``, releasing its weight as it ends (before its result is published: whoever waits
    for the result then sees the count without it), even if nobody takes the result."""

    def run() -> T:
        try:
            return task()
        finally:
            IN_FLIGHT.remove(weight)

    return run
