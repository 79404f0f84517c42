"""Property: what goes in comes back, whole or in any range, for every size around a boundary."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polaris.storage import BlobStore, Keyring, LocalBackend, MasterKey
from tests.storage.conftest import CHUNK

BOUNDARY_SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7]


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobStore]:
    root: Path = tmp_path_factory.mktemp("roundtrip")
    yield BlobStore.initialise(
        LocalBackend(root), Keyring([MasterKey.generate()]), chunk_size=CHUNK
    )


@st.composite
def content(draw: st.DrawFn) -> bytes:
    size = draw(st.sampled_from(BOUNDARY_SIZES) | st.integers(0, 5 * CHUNK))
    seed = draw(st.binary(min_size=1, max_size=16))
    # Cheap, varied bytes of an exact size (hypothesis' binary() is slow at kilobytes).
    stream = b"".join(
        hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1)
    )
    return stream[:size]


@settings(max_examples=60, deadline=None)
@given(data=content(), piece=st.integers(1, 3 * CHUNK))
def test_round_trip(shared_store: BlobStore, data: bytes, piece: int) -> None:
    pieces = (data[i : i + piece] for i in range(0, len(data), piece))
    ref = shared_store.put_stream(pieces)
    assert ref.size == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert len(ref.chunks) == -(-len(data) // CHUNK)
    assert all(chunk.size <= CHUNK for chunk in ref.chunks)
    assert b"".join(shared_store.open_stream(ref)) == data


@settings(max_examples=80, deadline=None)
@given(data=content(), bounds=st.tuples(st.integers(0, 6 * CHUNK), st.integers(0, 6 * CHUNK)))
def test_any_range(shared_store: BlobStore, data: bytes, bounds: tuple[int, int]) -> None:
    start, end = sorted(min(bound, len(data)) for bound in bounds)
    ref = shared_store.put_bytes(data)
    pieces = list(shared_store.read_range(ref, start, end))
    assert b"".join(pieces) == data[start:end]
    assert all(len(p) <= CHUNK for p in pieces)
