"""``receive_body``: the request body reaches the writer whole, in order, with bounded memory.

The body is read from the ASGI messages directly (not through ``Request.stream``), so these
tests pin what that loop must keep: every piece written once and in order, at most two
hand-off batches held between the socket and the writer, and a disconnect writing what did
arrive before ``ClientDisconnect`` propagates. Memory is asserted by counting bytes, not timing.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import ClientDisconnect, Request

from polaris.drive._http import HANDOFF_BYTES, receive_body
from tests.support.aio import run_coroutine

PIECE = 64 * 1024


class CountingWriter:
    """Stands in for ``ContentWriter``: records what it was given."""

    #: As the default store's: a batch is ``HANDOFF_BYTES``.
    chunk_size = HANDOFF_BYTES

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, piece: bytes) -> None:
        self.data += piece


class Body:
    """ASGI ``receive`` for a body of ``pieces``; tracks the bytes received but not yet
    written, the most of them at once."""

    def __init__(self, pieces: list[bytes], writer: CountingWriter, *, disconnect: bool) -> None:
        self.pieces = pieces
        self.writer = writer
        self.disconnect = disconnect
        self.received = 0
        self.most_held = 0

    async def __call__(self) -> dict[str, Any]:
        self.most_held = max(self.most_held, self.received - len(self.writer.data))
        if not self.pieces:
            return {"type": "http.disconnect"}
        piece = self.pieces.pop(0)
        self.received += len(piece)
        more = bool(self.pieces) or self.disconnect
        return {"type": "http.request", "body": piece, "more_body": more}


def run(pieces: list[bytes], *, disconnect: bool = False) -> tuple[CountingWriter, Body]:
    writer = CountingWriter()
    body = Body(list(pieces), writer, disconnect=disconnect)
    request = Request({"type": "http", "method": "POST", "headers": []}, body)

    async def main() -> None:
        await receive_body(request, writer)  # type: ignore[arg-type]

    run_coroutine(main())
    return writer, body


def test_every_piece_arrives_once_and_in_order() -> None:
    pieces = [bytes([index % 251]) * PIECE for index in range(3 * HANDOFF_BYTES // PIECE + 5)]
    pieces.insert(7, b"")  # an empty message is allowed and ignored
    writer, _ = run(pieces)
    assert bytes(writer.data) == b"".join(pieces)


def test_at_most_two_batches_are_held() -> None:
    pieces = [b"x" * PIECE] * (8 * HANDOFF_BYTES // PIECE)
    writer, body = run(pieces)
    assert len(writer.data) == 8 * HANDOFF_BYTES
    # One batch being stored, one being filled (the piece that completes it included).
    assert body.most_held <= 2 * HANDOFF_BYTES + PIECE


def test_a_disconnect_writes_what_arrived_then_raises() -> None:
    pieces = [b"y" * PIECE] * (HANDOFF_BYTES // PIECE + 3)
    with pytest.raises(ClientDisconnect):
        run(pieces, disconnect=True)
    writer = CountingWriter()
    body = Body(list(pieces), writer, disconnect=True)
    request = Request({"type": "http", "method": "POST", "headers": []}, body)

    async def main() -> None:
        with pytest.raises(ClientDisconnect):
            await receive_body(request, writer)  # type: ignore[arg-type]

    run_coroutine(main())
    assert bytes(writer.data) == b"".join(pieces)
