"""ContentWriter: pushed pieces give the same reference as put_stream; limits and flush hold."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polaris.errors import StorageFull
from polaris.storage import BlobStore, ContentRef, Keyring, LocalBackend, MasterKey, _fsio, names
from polaris.storage.pipeline import IN_FLIGHT, WINDOW
from polaris.storage.refs import EMPTY_SHA256
from polaris.storage.writer import ContentTooLarge
from tests.storage.conftest import CHUNK, object_files

BOUNDARY_SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7, 5 * CHUNK - 1]


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobStore]:
    root: Path = tmp_path_factory.mktemp("writer")
    yield BlobStore.initialise(
        LocalBackend(root), Keyring([MasterKey.generate()]), chunk_size=CHUNK
    )


def pseudo_random(size: int, seed: bytes = b"writer") -> bytes:
    """Varied bytes of an exact size, cheaply (hypothesis' binary() is slow at kilobytes)."""
    stream = b"".join(
        hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1)
    )
    return stream[:size]


def chunk_files(root: Path) -> list[str]:
    return object_files(root, names.CHUNKS)


@st.composite
def split_content(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """Content of a boundary or random size, cut at random points (empty pieces included)."""
    size = draw(st.sampled_from(BOUNDARY_SIZES) | st.integers(0, 6 * CHUNK))
    seed = draw(st.binary(min_size=1, max_size=8))
    data = pseudo_random(size, seed)
    cuts = sorted(draw(st.lists(st.integers(0, size), max_size=12)))
    bounds = [0, *cuts, size]
    return data, [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=80, deadline=None)
@given(case=split_content())
def test_any_split_gives_the_put_stream_reference(
    shared_store: BlobStore, case: tuple[bytes, list[bytes]]
) -> None:
    data, pieces = case
    writer = shared_store.writer()
    for piece in pieces:
        writer.write(piece)
    assert writer.size == len(data)
    ref = writer.finish()
    assert ref == shared_store.put_bytes(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert shared_store.read_bytes(ref) == data


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
@pytest.mark.parametrize("piece", [1, 7, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_boundary_sizes_with_fixed_pieces(shared_store: BlobStore, size: int, piece: int) -> None:
    data = pseudo_random(size)
    writer = shared_store.writer()
    for start in range(0, size, piece):
        writer.write(data[start : start + piece])
    assert writer.finish() == shared_store.put_bytes(data)


def test_accepts_bytearray_and_memoryview(shared_store: BlobStore) -> None:
    data = pseudo_random(2 * CHUNK + 3)
    writer = shared_store.writer()
    writer.write(bytearray(data[:100]))
    writer.write(memoryview(data)[100:])
    assert writer.finish() == shared_store.put_bytes(data)


def test_nothing_written_is_the_empty_content(store: BlobStore, blob_root: Path) -> None:
    ref = store.writer().finish()
    assert ref == ContentRef(chunks=(), size=0, sha256=EMPTY_SHA256)
    assert chunk_files(blob_root) == []


def test_a_chunk_is_stored_as_soon_as_it_is_full(store: BlobStore, blob_root: Path) -> None:
    data = pseudo_random(3 * CHUNK)
    writer = store.writer()
    writer.write(data[: CHUNK - 1])
    assert writer.stored_chunks == ()
    assert chunk_files(blob_root) == []
    writer.write(data[CHUNK - 1 : CHUNK + 1])
    assert [c.size for c in writer.stored_chunks] == [CHUNK]
    assert len(chunk_files(blob_root)) == 1
    writer.write(data[CHUNK + 1 :])
    assert [c.size for c in writer.stored_chunks] == [CHUNK, CHUNK, CHUNK]
    assert len(chunk_files(blob_root)) == 3


def test_limit_is_refused_before_anything_beyond_it_is_stored(
    store: BlobStore, blob_root: Path
) -> None:
    limit = 2 * CHUNK + 5
    data = pseudo_random(3 * CHUNK)
    writer = store.writer(limit=limit)
    writer.write(data[: 2 * CHUNK])
    assert len(writer.stored_chunks) == 2  # waits for the chunks in the pool
    assert len(chunk_files(blob_root)) == 2
    # This piece would complete a third chunk: it must be refused whole, not stored then refused.
    with pytest.raises(ContentTooLarge) as raised:
        writer.write(data[2 * CHUNK :])
    assert raised.value.limit == limit
    assert len(chunk_files(blob_root)) == 2
    assert writer.size == 2 * CHUNK
    assert [c.size for c in writer.stored_chunks] == [CHUNK, CHUNK]


def test_limit_is_inclusive(store: BlobStore) -> None:
    data = pseudo_random(CHUNK + 10)
    writer = store.writer(limit=len(data))
    writer.write(data[:10])
    writer.write(data[10:])
    assert writer.finish() == store.put_bytes(data)
    over = store.writer(limit=len(data))
    over.write(data)
    with pytest.raises(ContentTooLarge):
        over.write(b"x")


def test_a_first_piece_over_the_limit_stores_nothing(store: BlobStore, blob_root: Path) -> None:
    writer = store.writer(limit=CHUNK)
    with pytest.raises(ContentTooLarge):
        writer.write(pseudo_random(2 * CHUNK))
    assert writer.size == 0
    assert chunk_files(blob_root) == []


def test_flush_stores_a_short_chunk_and_the_next_write_starts_a_new_one(
    store: BlobStore, blob_root: Path
) -> None:
    data = pseudo_random(CHUNK + 15)
    writer = store.writer()
    writer.write(data[: CHUNK + 10])
    flushed = writer.flush()
    assert [c.size for c in flushed] == [CHUNK, 10]
    assert len(chunk_files(blob_root)) == 2
    assert writer.flush() == flushed  # nothing buffered: nothing more stored
    writer.write(data[CHUNK + 10 :])
    ref = writer.finish()
    assert [c.size for c in ref.chunks] == [CHUNK, 10, 5]
    assert ref.size == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert store.read_bytes(ref) == data
    assert list(store.read_range(ref, CHUNK + 8, CHUNK + 12)) == [
        data[CHUNK + 8 : CHUNK + 10],
        data[CHUNK + 10 : CHUNK + 12],
    ]


def test_a_finished_writer_refuses_more(store: BlobStore) -> None:
    writer = store.writer()
    writer.write(b"abc")
    writer.finish()
    with pytest.raises(RuntimeError):
        writer.write(b"d")


def test_chunks_in_the_pool_stay_within_the_window(shared_store: BlobStore) -> None:
    """Back-pressure: however much is written, one writer holds at most a window of chunks in
    the pool (``pipeline.IN_FLIGHT``), and they come back in content order."""
    data = pseudo_random(40 * CHUNK + 3)
    IN_FLIGHT.reset_peak()
    writer = shared_store.writer()
    for start in range(0, len(data), 3 * CHUNK):
        writer.write(data[start : start + 3 * CHUNK])
        assert IN_FLIGHT.current <= WINDOW * CHUNK
    ref = writer.finish()
    assert 0 < IN_FLIGHT.peak <= WINDOW * CHUNK
    assert IN_FLIGHT.current == 0
    assert ref == shared_store.put_bytes(data)
    assert shared_store.read_bytes(ref) == data


def test_a_chunk_that_fails_to_store_fails_the_writer(
    store: BlobStore, blob_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _fsio.write_all
    writes: list[int] = []

    def write_all(fd: int, payload: bytes) -> None:
        writes.append(len(payload))
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        real(fd, payload)

    monkeypatch.setattr(_fsio, "write_all", write_all)
    writer = store.writer()
    with pytest.raises(StorageFull):
        writer.write(pseudo_random(6 * CHUNK))
        writer.finish()
    with pytest.raises(RuntimeError, match="failed"):
        writer.write(b"more")
    assert IN_FLIGHT.current == 0
    assert len(chunk_files(blob_root)) == len(writes) - 1  # the failed one is not there
