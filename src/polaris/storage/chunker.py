"""Cutting a byte stream into fixed-size chunks, holding at most one chunk in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable


@runtime_checkable
class SupportsRead(Protocol):
    def read(self, size: int, /) -> bytes: ...


Piece = bytes | bytearray | memoryview
Source = SupportsRead | Iterable[bytes] | Piece


def iter_chunks(source: Source, chunk_size: int) -> Iterator[bytes]:
    """Chunks of exactly ``chunk_size`` bytes, the last one shorter; nothing for empty input.

    ``source`` is a binary file-like object (``read(n)``; short reads are fine, ``b""`` is the end)
    or an iterable of ``bytes`` pieces of any size.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    if isinstance(source, bytes | bytearray | memoryview):
        yield from _from_pieces((source,), chunk_size)
    elif isinstance(source, SupportsRead):
        yield from _from_reader(source, chunk_size)
    else:
        yield from _from_pieces(source, chunk_size)


def _from_reader(reader: SupportsRead, chunk_size: int) -> Iterator[bytes]:
    while True:
        buffer = bytearray()
        while len(buffer) < chunk_size:
            piece = reader.read(chunk_size - len(buffer))
            if not piece:
                break
            _check_bytes(piece)
            buffer += piece
        if buffer:
            yield bytes(buffer)
        if len(buffer) < chunk_size:
            return


def _from_pieces(pieces: Iterable[Piece], chunk_size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for piece in pieces:
        _check_bytes(piece)
        view = memoryview(piece)
        while view:
            take = chunk_size - len(buffer)
            buffer += view[:take]
            view = view[take:]
            if len(buffer) == chunk_size:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)


def _check_bytes(piece: object) -> None:
    if not isinstance(piece, bytes | bytearray | memoryview):
        raise TypeError(f"content must be bytes, got {type(piece).__name__}")
