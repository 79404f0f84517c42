"""Writing and reading content: dedup, ranges, tampering that is detected, named, never served."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from polaris.errors import IntegrityError, NotFound, StorageFull
from polaris.storage import BlobStore, ContentRef, Keyring, LocalBackend, MasterKey, _fsio, names
from polaris.storage.backend import Backend
from polaris.storage.crypto import Kind, SealError
from tests.storage.conftest import CHUNK, CountingBackend, RawObjects, object_files, temp_files

BACKENDS = ["local", "s3"]


def test_round_trip_from_bytes_reader_and_iterable(store: BlobStore) -> None:
    data = os.urandom(CHUNK * 3 + 17)
    pieces = [data[i : i + 700] for i in range(0, len(data), 700)]
    refs = [store.put_bytes(data), store.put_stream(io.BytesIO(data)), store.put_stream(pieces)]
    assert refs[0] == refs[1] == refs[2]
    ref = refs[0]
    assert ref.size == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert [c.size for c in ref.chunks] == [CHUNK, CHUNK, CHUNK, 17]
    assert b"".join(store.open_stream(ref)) == data


class _Trickle:
    """A reader that returns at most 100 bytes per call, as sockets and pipes do."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int, /) -> bytes:
        return self._stream.read(min(size, 100))


def test_short_reads_still_give_full_chunks(store: BlobStore) -> None:
    data = os.urandom(CHUNK * 2 + 5)
    ref = store.put_stream(_Trickle(data))
    assert [c.size for c in ref.chunks] == [CHUNK, CHUNK, 5]
    assert store.read_bytes(ref) == data


def test_text_is_refused(store: BlobStore) -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        store.put_stream(["not bytes"])  # type: ignore[list-item]


def test_empty_content_has_no_chunks(store: BlobStore, raw: RawObjects) -> None:
    ref = store.put_bytes(b"")
    assert ref == ContentRef(chunks=(), size=0, sha256=hashlib.sha256(b"").hexdigest())
    assert list(store.open_stream(ref)) == []
    assert list(store.read_range(ref, 0, 0)) == []
    assert raw.names("data/") == []


def test_identical_content_is_stored_once(store: BlobStore, raw: RawObjects) -> None:
    block = os.urandom(CHUNK)
    first = store.put_bytes(block * 5)
    assert len(first.chunks) == 5
    assert len({chunk.chunk_id for chunk in first.chunks}) == 1
    assert len(raw.names("data/chunks/")) == 1
    second = store.put_bytes(block * 2 + b"tail")
    assert second.chunks[0] == first.chunks[0]
    assert len(raw.names("data/chunks/")) == 2


def test_existing_chunk_is_not_rewritten(backend: Backend, keyring: Keyring) -> None:
    counting = CountingBackend(backend)
    store = BlobStore.initialise(counting, keyring, chunk_size=CHUNK)
    store.put_bytes(b"a" * CHUNK)
    puts = counting.calls["put"]
    store.put_bytes(b"a" * CHUNK)
    assert counting.calls["put"] == puts


@pytest.mark.parametrize("backend_kind", ["local"])
def test_chunk_id_is_keyed(tmp_path: Path, keyring: Keyring, backend_kind: str) -> None:
    one = BlobStore.initialise(LocalBackend(tmp_path / "one"), keyring, chunk_size=CHUNK)
    two = BlobStore.initialise(LocalBackend(tmp_path / "two"), keyring, chunk_size=CHUNK)
    data = b"same content"
    assert one.put_bytes(data).chunks[0].chunk_id != two.put_bytes(data).chunks[0].chunk_id
    assert one.put_bytes(data).chunks[0].chunk_id != hashlib.sha256(data).hexdigest()


def test_range_read_fetches_only_overlapping_chunks(backend: Backend, keyring: Keyring) -> None:
    counting = CountingBackend(backend)
    store = BlobStore.initialise(counting, keyring, chunk_size=CHUNK)
    data = os.urandom(CHUNK * 10)
    ref = store.put_bytes(data)
    counting.gets.clear()

    assert b"".join(store.read_range(ref, CHUNK * 3 + 5, CHUNK * 5 - 1)) == data[3077:5119]
    assert counting.gets == [names.chunk_name(ref.chunks[i].chunk_id) for i in (3, 4)]

    counting.gets.clear()
    assert b"".join(store.read_range(ref, CHUNK * 7, CHUNK * 8)) == data[CHUNK * 7 : CHUNK * 8]
    assert counting.gets == [names.chunk_name(ref.chunks[7].chunk_id)]

    counting.gets.clear()
    assert list(store.read_range(ref, 100, 100)) == []
    assert counting.gets == []


def test_range_outside_the_content_is_refused_at_once(store: BlobStore) -> None:
    ref = store.put_bytes(b"0123456789")
    for start, end in [(-1, 5), (5, 4), (0, 11)]:
        with pytest.raises(ValueError, match="invalid range"):
            store.read_range(ref, start, end)


def _three_chunks(store: BlobStore) -> tuple[bytes, ContentRef]:
    data = os.urandom(CHUNK * 3)
    return data, store.put_bytes(data)


def _read_until_error(store: BlobStore, ref: ContentRef) -> tuple[list[bytes], IntegrityError]:
    served: list[bytes] = []
    with pytest.raises(IntegrityError) as raised:
        for piece in store.open_stream(ref):
            served.append(piece)
    return served, raised.value


def test_flipped_byte_is_detected_named_and_never_served(store: BlobStore, raw: RawObjects) -> None:
    data, ref = _three_chunks(store)
    damaged = ref.chunks[1].chunk_id
    name = names.chunk_name(damaged)
    blob = bytearray(raw.read(name))
    blob[500] ^= 0x40
    raw.write(name, bytes(blob))

    served, error = _read_until_error(store, ref)
    assert served == [data[:CHUNK]]
    assert (
        str(error)
        == f"chunk {damaged}: authentication failed (damaged, or not the object of this id)"
    )
    assert error.code == "integrity_error"
    with pytest.raises(IntegrityError, match=damaged):
        b"".join(store.read_range(ref, CHUNK + 10, CHUNK + 20))
    # Reading ahead (a range of several chunks) serves the good chunk and stops at the bad one.
    served_range: list[bytes] = []
    with pytest.raises(IntegrityError, match=damaged):
        for piece in store.read_range(ref, 0, ref.size):
            served_range.append(piece)
    assert served_range == [data[:CHUNK]]


def test_swapped_chunks_are_detected(store: BlobStore, raw: RawObjects) -> None:
    _, ref = _three_chunks(store)
    first, second = (names.chunk_name(c.chunk_id) for c in ref.chunks[:2])
    first_bytes, second_bytes = raw.read(first), raw.read(second)
    raw.write(first, second_bytes)
    raw.write(second, first_bytes)

    served, error = _read_until_error(store, ref)
    assert served == []
    assert str(error).startswith(f"chunk {ref.chunks[0].chunk_id}: authentication failed")
    with pytest.raises(IntegrityError, match=f"chunk {ref.chunks[1].chunk_id}: authentication"):
        store.read_chunk(ref.chunks[1].chunk_id)


def test_truncated_chunk_is_detected(store: BlobStore, raw: RawObjects) -> None:
    data, ref = _three_chunks(store)
    damaged = ref.chunks[2].chunk_id
    name = names.chunk_name(damaged)
    raw.write(name, raw.read(name)[:700])

    served, error = _read_until_error(store, ref)
    assert served == [data[:CHUNK], data[CHUNK : 2 * CHUNK]]
    assert str(error) == f"chunk {damaged}: truncated: 700 of {CHUNK + 42} bytes"
    with pytest.raises(IntegrityError, match=f"chunk {damaged}: authentication failed"):
        store.read_chunk(damaged)
    raw.write(name, raw.read(name)[:10])
    with pytest.raises(IntegrityError, match=f"chunk {damaged}: truncated: 10 bytes"):
        store.read_chunk(damaged)


def test_missing_chunk_is_named(store: BlobStore, raw: RawObjects) -> None:
    _, ref = _three_chunks(store)
    raw.delete(names.chunk_name(ref.chunks[0].chunk_id))
    served, error = _read_until_error(store, ref)
    assert served == []
    assert str(error) == f"chunk {ref.chunks[0].chunk_id}: missing"


def test_wrong_header_fields_are_named(store: BlobStore, raw: RawObjects) -> None:
    _, ref = _three_chunks(store)
    cid = ref.chunks[0].chunk_id
    name = names.chunk_name(cid)
    original = raw.read(name)
    for offset, value, reason in [
        (0, ord("X"), "bad magic"),
        (4, 9, "unsupported format version 9"),
        (5, Kind.MANIFEST, "wrong kind 2"),
        (13, 0x77, "unknown data key"),
    ]:
        blob = bytearray(original)
        blob[offset] = value
        raw.write(name, bytes(blob))
        with pytest.raises(IntegrityError, match=f"chunk {cid}: .*{reason}"):
            store.read_chunk(cid)


def test_content_that_does_not_match_its_id_is_found_by_verify(
    store: BlobStore, raw: RawObjects
) -> None:
    """Only a holder of the data key can seal under an id (GCM), so a plaintext that is not
    the id's comes from a faulty writer: verify's HMAC check finds it (a read does not look,
    docs/storage-format.md §11)."""
    _, ref = _three_chunks(store)
    cid = ref.chunks[0].chunk_id
    forged = store._seal(Kind.CHUNK, cid, os.urandom(CHUNK))  # a buggy writer, with the real keys
    raw.write(names.chunk_name(cid), forged)
    with pytest.raises(SealError, match="content does not match its id"):
        store.open_chunk(cid)
    report = store.verify()
    assert [(f.object_name, f.reason) for f in report.findings] == [
        (names.chunk_name(cid), "content does not match its id (HMAC mismatch)")
    ]


def test_wrong_master_key_is_refused_and_named(
    backend: Backend, store: BlobStore, keyring: Keyring
) -> None:
    store.put_bytes(b"secret")
    wrong = Keyring([MasterKey.generate()])
    with pytest.raises(IntegrityError, match="wrong master key") as raised:
        BlobStore.open(backend, wrong)
    assert keyring.current.key_id_hex in str(raised.value)
    assert wrong.current.key_id_hex in str(raised.value)


def test_chunk_under_a_data_key_this_keyring_cannot_open(
    backend: Backend, store: BlobStore, keyring: Keyring
) -> None:
    """Another node moved to master key B and data key 2; a node with only A cannot read those."""
    old = store.put_bytes(b"old content")
    store.add_master_key(MasterKey.generate())
    assert store.rotate_data_key() == 2
    new = store.put_bytes(b"new content")

    only_a = BlobStore.open(backend, keyring, chunk_size=CHUNK)
    assert only_a.read_bytes(old) == b"old content"
    cid = new.chunks[0].chunk_id
    with pytest.raises(IntegrityError, match=f"chunk {cid}: unknown data key 2"):
        only_a.read_bytes(new)


def test_damaged_data_key_wrapping_names_the_chunk_and_the_key(
    backend: Backend, store: BlobStore, keyring: Keyring, raw: RawObjects
) -> None:
    ref = store.put_bytes(b"content")
    key_name = names.data_key_name(1, keyring.current.key_id)
    blob = bytearray(raw.read(key_name))
    blob[40] ^= 1
    raw.write(key_name, bytes(blob))
    reopened = BlobStore.open(backend, keyring)
    with pytest.raises(IntegrityError, match=r"chunk \w+: data key 1 unusable: keys/data/.*auth"):
        reopened.read_bytes(ref)


def test_opening_an_empty_store_is_not_found(backend: Backend, keyring: Keyring) -> None:
    with pytest.raises(NotFound, match="initialise"):
        BlobStore.open(backend, keyring)


@pytest.mark.parametrize("backend_kind", ["local"])
def test_disk_full_during_put_stream(
    store: BlobStore, blob_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(CHUNK * 4)
    real = _fsio.write_all
    writes: list[int] = []

    def write_all(fd: int, payload: bytes) -> None:
        writes.append(len(payload))
        if len(writes) == 3:
            real(fd, payload[:100])
            raise OSError(28, "No space left on device")
        real(fd, payload)

    monkeypatch.setattr(_fsio, "write_all", write_all)
    with pytest.raises(StorageFull):
        store.put_bytes(data)
    monkeypatch.undo()
    # Chunks are written several at a time: the fourth may have been written too, never the
    # failed one, and nothing is left half-written.
    stored = len(writes) - 1
    assert len(object_files(blob_root, "data/chunks/")) == stored
    assert temp_files(blob_root) == []
    report = store.verify()
    assert report.ok, report.findings
    assert len(report.unreferenced_chunks) == stored
    assert b"".join(store.open_stream(store.put_bytes(data))) == data


def test_initialise_twice_is_refused(backend: Backend, store: BlobStore) -> None:
    from polaris.errors import Conflict

    with pytest.raises(Conflict):
        BlobStore.initialise(backend, Keyring([MasterKey.generate()]))


def test_chunk_size_is_bounded(backend: Backend, store: BlobStore, keyring: Keyring) -> None:
    with pytest.raises(ValueError):
        BlobStore.open(backend, keyring, chunk_size=4 * 1024 * 1024 + 1)
    with pytest.raises(ValueError):
        BlobStore.open(backend, keyring, chunk_size=0)
