"""Incremental writing: content that arrives in pieces (an HTTP body, a resumable upload).

:meth:`BlobStore.put_stream` pulls from a source; a :class:`ContentWriter` is pushed to instead,
which suits an asynchronous request body: the caller hands over pieces as they come and only the
calls that complete chunks do blocking work.

Each full chunk is sealed and stored (HMAC, AES-GCM, write, fsync) in the shared pool of
``polaris.storage.pipeline`` while the caller goes on hashing and cutting the next pieces, and
the chunk references are taken back in content order. At most ``pipeline.WINDOW`` chunks of one
writer are in the pool; a write that would add one more first waits for the oldest, so memory
stays below ``WINDOW + 1`` chunks plus one piece whatever the size of the content.
"""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING

from polaris.storage.pipeline import OrderedWindow
from polaris.storage.refs import EMPTY_SHA256, ChunkRef, ContentRef

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

    from polaris.storage.store import BlobStore

Piece = bytes | bytearray | memoryview


class ContentWriter:
    """Cuts pushed bytes into chunks, stores them in the background, hashes everything.

    ``limit`` (bytes) makes :meth:`write` raise :class:`ContentTooLarge` as soon as more would
    arrive, before anything beyond it is stored. A chunk that fails to store (StorageFull,
    StorageFailure) raises from the next :meth:`write`, :meth:`flush`, :meth:`finish` or
    :attr:`stored_chunks`, and the writer is then unusable. Not thread-safe: one writer per
    upload, used by one thread at a time.
    """

    def __init__(
        self, store: BlobStore, *, limit: int | None = None, digest: Hash | None = None
    ) -> None:
        self._store = store
        self._limit = limit
        #: The chunk being filled, allocated whole (a full one goes to the pool as it is).
        self._buffer = bytearray()
        self._fill = 0
        #: A resumable upload passes the running hash of what earlier requests sent.
        self._digest = digest if digest is not None else hashlib.sha256()
        self._chunks: list[ChunkRef] = []
        self._window: OrderedWindow[ChunkRef] = OrderedWindow()
        self._size = 0
        self._finished = False
        self._failed = False

    @property
    def chunk_size(self) -> int:
        """The store's chunk size: what the writer seals at a time."""
        return self._store.chunk_size

    @property
    def size(self) -> int:
        """Bytes accepted so far (stored, being stored, or buffered until the chunk is full)."""
        return self._size

    @property
    def digest(self) -> Hash:
        return self._digest

    @property
    def stored_chunks(self) -> tuple[ChunkRef, ...]:
        """Every full chunk written so far, in order, once durable (this waits for the ones in
        the pool): a resumable upload records them as its progress."""
        self._check_usable()
        while len(self._window):
            self._take_oldest()
        return tuple(self._chunks)

    def write(self, data: Piece) -> None:
        self._check_usable()
        view = memoryview(data).cast("B")
        if self._limit is not None and self._size + len(view) > self._limit:
            raise ContentTooLarge(self._limit)
        self._digest.update(view)
        self._size += len(view)
        chunk_size = self._store.chunk_size
        immutable = isinstance(data, bytes)
        while view:
            if immutable and not self._fill and len(view) >= chunk_size:
                # A whole chunk of immutable bytes goes to the pool as a view, without a copy.
                self._submit(view[:chunk_size])
                view = view[chunk_size:]
                continue
            if not self._fill:
                self._buffer = bytearray(chunk_size)
            take = min(chunk_size - self._fill, len(view))
            self._buffer[self._fill : self._fill + take] = view[:take]
            self._fill += take
            view = view[take:]
            if self._fill == chunk_size:
                self._submit(self._buffer)
                self._buffer, self._fill = bytearray(), 0
        while self._window.oldest_done():
            self._take_oldest()

    def flush(self) -> tuple[ChunkRef, ...]:
        """Store the partial chunk now (a shorter chunk is valid), wait until every chunk is
        durable, and return them all.

        A resumable upload calls this at the end of each request, so that all it acknowledged is
        durable; the next request starts a new chunk.
        """
        self._check_usable()
        last: ChunkRef | None = None
        if self._fill:
            # Stored on this thread, beside the pool's work: a small file never changes thread.
            try:
                last = self._store.put_chunk(memoryview(self._buffer)[: self._fill])
            except BaseException:
                self.abort()
                raise
            self._buffer, self._fill = bytearray(), 0
        while len(self._window):
            self._take_oldest()
        if last is not None:
            self._chunks.append(last)
        return tuple(self._chunks)

    def finish(self) -> ContentRef:
        """Store what is buffered and return the content reference (chunks durable)."""
        self.flush()
        self._finished = True
        sha256 = self._digest.hexdigest() if self._size else EMPTY_SHA256
        return ContentRef(chunks=tuple(self._chunks), size=self._size, sha256=sha256)

    def abort(self) -> None:
        """Give up: chunks not started are dropped, running ones are waited for. What was stored
        stays unreferenced until garbage collection removes it (docs/storage-format.md §15)."""
        self._failed = True
        self._window.cancel()
        self._buffer, self._fill = bytearray(), 0

    def _submit(self, plaintext: Piece) -> None:
        while self._window.full:
            self._take_oldest()
        self._window.submit(len(plaintext), functools.partial(self._store.put_chunk, plaintext))

    def _take_oldest(self) -> None:
        try:
            self._chunks.append(self._window.take_oldest())
        except BaseException:
            self.abort()
            raise

    def _check_usable(self) -> None:
        if self._failed:
            raise RuntimeError("the writer failed to store a chunk earlier")
        if self._finished:
            raise RuntimeError("the writer is finished")


class ContentTooLarge(Exception):
    """More content arrived than the writer's limit allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"content exceeds the limit of {limit} bytes")
        self.limit = limit
