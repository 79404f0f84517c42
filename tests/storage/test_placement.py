"""Placement records (docs/storage-format.md §8a) on a real backend: written once per change of
state, the newest one found, a damaged or swapped one refused, verify reading them, garbage
collection keeping the newest and removing only what a readable newer record supersedes, the
backup copying them. And the document itself, followed by a reader that does not use the code."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from polaris.backup.replicate import BlobReplicator
from polaris.errors import IntegrityError
from polaris.storage import BlobStore, LocalBackend, names
from polaris.storage.crypto import SealError
from polaris.storage.gc import collect_garbage
from polaris.storage.placement import (
    PlacedSpace,
    Placement,
    decode_placement,
    encode_placement,
)
from tests.storage.conftest import ListedReferences, RawObjects
from tests.storage.test_gc import GRACE, set_age

T0 = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)
SPACE = PlacedSpace(id=7, kind="unit", name="PS कोतवाली", root_id=1, unit_id=12)


def record(node_id: int = 41, generation: int = 10, **changes: object) -> Placement:
    values: dict[str, object] = {
        "node_id": node_id,
        "generation": generation,
        "recorded_at": T0 + dt.timedelta(seconds=generation),
        "kind": "file",
        "name": "बयान.txt",
        "parent_id": 40,
        "path": "/FIR/बयान.txt",
        "space": SPACE,
        "classification": "restricted",
        "effective_classification": "confidential",
        "created_at": T0,
    }
    values.update(changes)
    return Placement(**values)  # type: ignore[arg-type]


def test_the_newest_record_of_a_node_is_found_and_an_equal_one_is_not_written_again(
    store: BlobStore, raw: RawObjects
) -> None:
    first = store.write_placement(record(generation=10))
    assert first is not None and names.parse_placement_name(first) is not None
    # The same state again (a batch handed over twice, a later event that changed nothing here).
    assert store.write_placement(record(generation=11)) is None
    renamed = store.write_placement(record(generation=12, name="नया.txt"))
    assert renamed is not None
    # An older generation arriving late is superseded on arrival.
    assert store.write_placement(record(generation=11, name="पुराना.txt")) is None
    assert raw.names(names.PLACEMENTS) == sorted([first, renamed])
    latest = store.latest_placement(41)
    assert latest is not None and latest.name == "नया.txt" and latest.generation == 12
    tombstone = Placement(node_id=41, generation=13, recorded_at=T0, purged=True)
    assert store.write_placement(tombstone) is not None
    assert store.latest_placement(41) == tombstone
    assert store.latest_placement(42) is None


def test_a_record_moved_under_another_node_or_generation_is_refused(
    store: BlobStore, raw: RawObjects
) -> None:
    one = store.write_placement(record(node_id=41))
    two = store.write_placement(record(node_id=42, name="other.txt"))
    assert one is not None and two is not None
    # Put node 41's record where node 42's newest would be: authentication fails.
    swapped = two.rsplit("/", 1)[0] + "/" + f"{99:016x}.{0:016x}"
    raw.write(swapped, raw.read(one))
    with pytest.raises(SealError, match="authentication failed"):
        store.open_placement(swapped)
    assert store.latest_placement(42) == store.open_placement(two)  # passed over
    seen: list[str] = []
    latest = list(store.iter_latest_placements(on_error=lambda name, error: seen.append(name)))
    assert sorted(p.node_id for p in latest) == [41, 42] and seen == [swapped]
    with pytest.raises(IntegrityError, match="authentication failed"):
        list(store.iter_latest_placements())
    report = store.verify()
    assert [str(f) for f in report.findings] == [
        f"{swapped}: authentication failed (damaged, or not the object of this id)"
    ]
    assert report.placements == 2 and report.checked == report.total


def test_a_reader_refuses_a_format_it_does_not_know() -> None:
    good = json.loads(encode_placement(record()))
    for change, message in (
        ({"format": 2}, "unsupported placement format 2 (this reader knows 1)"),
        ({"surprise": 1}, "malformed placement: fields"),
        ({"kind": "link"}, "node kind 'link' is not file or folder"),
        ({"node_id": 0}, "expected an id"),
    ):
        with pytest.raises(SealError, match=message.replace("(", r"\(").replace(")", r"\)")):
            decode_placement(json.dumps({**good, **change}).encode())


def test_gc_keeps_the_newest_record_and_removes_superseded_old_ones(
    store: BlobStore, blob_root: Path
) -> None:
    older = store.write_placement(record(generation=1, name="a"))
    middle = store.write_placement(record(generation=2, name="b"))
    newest = store.write_placement(record(generation=3, name="c"))
    alone = store.write_placement(record(node_id=50, generation=1))
    assert older and middle and newest and alone
    for name in (older, newest, alone):
        set_age(blob_root, name, days=400)
    set_age(blob_root, middle, days=1)  # young: kept through the grace period
    seen: list[str] = []
    report = collect_garbage(
        store, references=ListedReferences(), grace=GRACE, dry_run=False,
        on_garbage=lambda garbage: seen.append(garbage.name),
    )  # fmt: skip
    assert seen == [older] and report.removed == 1 and report.kept_young == 1
    remaining = set(store.backend.list(names.PLACEMENTS))
    assert remaining == {middle, newest, alone}


def test_gc_keeps_every_record_of_a_node_whose_newest_cannot_be_read(
    store: BlobStore, blob_root: Path, raw: RawObjects
) -> None:
    older = store.write_placement(record(generation=1, name="a"))
    newest = store.write_placement(record(generation=2, name="b"))
    assert older and newest
    damaged = bytearray(raw.read(newest))
    damaged[-1] ^= 1
    raw.write(newest, bytes(damaged))
    for name in (older, newest):
        set_age(blob_root, name, days=400)
    report = collect_garbage(store, references=ListedReferences(), grace=GRACE, dry_run=False)
    assert report.removed == 0 and report.kept_placements == 1
    assert set(store.backend.list(names.PLACEMENTS)) == {older, newest}


def test_the_backup_copies_placement_records_like_any_object(
    store: BlobStore, tmp_path: Path
) -> None:
    name = store.write_placement(record())
    assert name is not None
    target = LocalBackend(tmp_path / "target")
    BlobReplicator(store.backend, target, state_dir=tmp_path / "state").run_pass(full=True)
    assert target.get(name) == store.backend.get(name)
    copy = BlobStore.open(target, store.keyring)
    assert copy.latest_placement(41) == store.latest_placement(41)


def test_a_record_recovered_by_following_the_document(
    store: BlobStore, key_file: Path, blob_root: Path
) -> None:
    """§8a, read with nothing but the key file, the dedup and data keys and AES-GCM."""
    placement = record(generation=0x1234, recorded_at=T0.replace(microsecond=123456))
    name = store.write_placement(placement)
    master_id, master = key_file.read_bytes()[18:26], key_file.read_bytes()[26:58]
    dedup = _open(
        (blob_root / "keys" / "dedup" / master_id.hex()).read_bytes(), master, "dedup-key", 4
    )
    data_key = _open(
        (blob_root / "keys" / "data" / f"{1:016x}.{master_id.hex()}").read_bytes(),
        master, f"data-key/{1:016x}", 3,
    )  # fmt: skip
    node_key = hmac.new(dedup, b"polaris-placement\x00" + b"41", hashlib.sha256).hexdigest()
    recorded = int(T0.replace(microsecond=123456).timestamp() * 1_000_000)
    expected = f"data/placements/{node_key[:2]}/{node_key}/{0x1234:016x}.{recorded:016x}"
    assert name == expected
    object_id = f"placement/{node_key}/{0x1234:016x}.{recorded:016x}"
    plaintext = _open((blob_root / name).read_bytes(), data_key, object_id, 5)
    document = json.loads(plaintext)
    assert (
        plaintext
        == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert document == {
        "format": 1, "node_id": 41, "generation": 0x1234,
        "recorded_at": "2026-12-01T05:30:00.123456+00:00", "purged": False, "kind": "file",
        "name": "बयान.txt", "parent_id": 40, "path": "/FIR/बयान.txt",
        "space": {"id": 7, "kind": "unit", "name": "PS कोतवाली", "root_id": 1, "unit_id": 12,
                  "owner_id": None, "classification": None, "quota_bytes": None},
        "classification": "restricted", "effective_classification": "confidential",
        "created_at": "2026-12-01T05:30:00.000000+00:00", "trashed_at": None, "extra": {},
    }  # fmt: skip


def test_records_of_one_generation_and_microsecond_get_names_of_their_own(
    store: BlobStore,
) -> None:
    first = store.write_placement(record(generation=5))
    second = store.write_placement(dataclasses.replace(record(generation=5), name="x"))
    assert first and second and first != second
    assert second.endswith(f".{record(generation=5).recorded_us + 1:016x}")


def _open(blob: bytes, key: bytes, object_id: str, kind: int) -> bytes:
    magic, version, found_kind, _, nonce = struct.unpack(">4sBB8s12s", blob[:26])
    assert (magic, version, found_kind) == (b"PLRS", 1, kind)
    return AESGCM(key).decrypt(nonce, blob[26:], blob[:26] + object_id.encode("ascii"))
