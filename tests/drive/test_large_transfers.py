"""Large transfers through the app hold a bounded number of chunks, whatever the file size.

The upload and download pipelines (docs/storage-format.md §11a) count the plaintext bytes they
hold in ``polaris.storage.pipeline.IN_FLIGHT``; these tests read that count, not RSS or time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

from polaris.storage.pipeline import IN_FLIGHT, WINDOW
from tests.drive.conftest import CHUNK, Drive

FILES = "/api/v1/files"
#: 16 MiB at the tests' 64 KiB chunks: the file is 128 times the window of a 2-core machine.
CHUNKS = 256
PIECE = 4 * CHUNK


def test_a_large_upload_and_its_download_hold_at_most_a_window_of_chunks(drive: Drive) -> None:
    sent = hashlib.sha256()

    def body() -> Iterator[bytes]:  # no Content-Length: the streaming path, piece by piece
        for _ in range(CHUNKS * CHUNK // PIECE):
            piece = os.urandom(PIECE)
            sent.update(piece)
            yield piece

    IN_FLIGHT.reset_peak()
    response = drive.post(
        "hc.a1",
        FILES,
        params={"parent_id": drive.root("hc.a1"), "name": "large.bin"},
        content=body(),
    )
    assert response.status_code == 201, response.text
    node = response.json()
    assert (node["size"], node["sha256"]) == (CHUNKS * CHUNK, sent.hexdigest())
    assert 0 < IN_FLIGHT.peak <= WINDOW * CHUNK
    assert IN_FLIGHT.current == 0

    IN_FLIGHT.reset_peak()
    received = hashlib.sha256()
    with drive.client.stream(
        "GET", f"{FILES}/{node['id']}/content", headers=drive.headers("hc.a1")
    ) as download:
        assert download.status_code == 200
        for piece in download.iter_bytes():
            received.update(piece)
    assert received.hexdigest() == sent.hexdigest()
    assert 0 < IN_FLIGHT.peak <= WINDOW * CHUNK
    assert IN_FLIGHT.current == 0
