"""Incremental writing: content that arrives in pieces (an HTTP body, a resumable upload).

:meth:`BlobStore.put_stream` pulls from a source; a :class:`ContentWriter` is pushed to instead,
which suits an asynchronous request body: the caller hands over pieces as they come and only the
call that completes a chunk does blocking work (encrypt, write, fsync). Memory stays below one
chunk plus one piece whatever the size of the content.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from polaris.storage.refs import EMPTY_SHA256, ChunkRef, ContentRef

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

    from polaris.storage.store import BlobStore


class ContentWriter:
    """Cuts pushed bytes into chunks, stores each as soon as it is full, hashes everything.

    ``limit`` (bytes) makes :meth:`write` raise :class:`ContentTooLarge` as soon as more would
    arrive, before anything beyond it is stored. Not thread-safe: one writer per upload.
    """

    def __init__(
        self, store: BlobStore, *, limit: int | None = None, digest: Hash | None = None
    ) -> None:
        self._store = store
        self._limit = limit
        self._buffer = bytearray()
        #: A resumable upload passes the running hash of what earlier requests sent.
        self._digest = digest if digest is not None else hashlib.sha256()
        self._chunks: list[ChunkRef] = []
        self._size = 0
        self._finished = False

    @property
    def size(self) -> int:
        """Bytes accepted so far (stored, or buffered until the chunk is full)."""
        return self._size

    @property
    def digest(self) -> Hash:
        return self._digest

    @property
    def stored_chunks(self) -> tuple[ChunkRef, ...]:
        """The chunks durably stored so far, in order."""
        return tuple(self._chunks)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._finished:
            raise RuntimeError("the writer is finished")
        if self._limit is not None and self._size + len(data) > self._limit:
            raise ContentTooLarge(self._limit)
        self._digest.update(data)
        self._size += len(data)
        self._buffer += data
        chunk_size = self._store.chunk_size
        if len(self._buffer) >= chunk_size:
            view = memoryview(self._buffer)
            start = 0
            while len(self._buffer) - start >= chunk_size:
                self._chunks.append(self._store.put_chunk(bytes(view[start : start + chunk_size])))
                start += chunk_size
            view.release()
            del self._buffer[:start]

    def flush(self) -> tuple[ChunkRef, ...]:
        """Store the partial chunk now (a shorter chunk is valid) and return every chunk stored.

        A resumable upload calls this at the end of each request, so that all it acknowledged is
        durable; the next request starts a new chunk.
        """
        if self._buffer:
            self._chunks.append(self._store.put_chunk(bytes(self._buffer)))
            self._buffer.clear()
        return tuple(self._chunks)

    def finish(self) -> ContentRef:
        """Store what is buffered and return the content reference (chunks durable)."""
        self.flush()
        self._finished = True
        sha256 = self._digest.hexdigest() if self._size else EMPTY_SHA256
        return ContentRef(chunks=tuple(self._chunks), size=self._size, sha256=sha256)


class ContentTooLarge(Exception):
    """More content arrived than the writer's limit allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"content exceeds the limit of {limit} bytes")
        self.limit = limit
