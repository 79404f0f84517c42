"""The Backend protocol, on every backend: the local directory and S3 (a real SeaweedFS)."""

from __future__ import annotations

import threading
import time

import pytest

from polaris.storage import ObjectNotFound, ObjectTooLargeError
from polaris.storage.backend import Backend
from tests.storage.conftest import RawObjects

BACKENDS = ["local", "s3"]


def test_put_get_exists(backend: Backend) -> None:
    assert not backend.exists("data/chunks/ab/one")
    assert backend.put("data/chunks/ab/one", b"first")
    assert backend.exists("data/chunks/ab/one")
    assert backend.get("data/chunks/ab/one") == b"first"
    assert backend.put("keys/dedup/0011223344556677", b"")
    assert backend.get("keys/dedup/0011223344556677") == b""


def test_put_never_overwrites(backend: Backend, raw: RawObjects) -> None:
    assert backend.put("data/x", b"original")
    assert not backend.put("data/x", b"replacement")
    assert backend.get("data/x") == b"original"
    assert raw.read("data/x") == b"original"


def test_of_concurrent_creators_exactly_one_wins(backend: Backend) -> None:
    """Eight writers put one name at once, each with bytes of its own: one is told it stored the
    object, the others that it exists, and the object holds the winner's bytes."""
    writers = 8
    barrier = threading.Barrier(writers)
    results: dict[int, bool | BaseException] = {}

    def write(index: int) -> None:
        barrier.wait()
        try:
            results[index] = backend.put("data/chunks/ra/race", f"writer {index}".encode() * 500)
        except BaseException as exc:  # reported below, not lost in the thread
            results[index] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(result, bool) for result in results.values()), results
    winners = [index for index, won in results.items() if won is True]
    assert len(winners) == 1, results
    assert backend.get("data/chunks/ra/race") == f"writer {winners[0]}".encode() * 500


def test_get_range_is_clamped_like_http(backend: Backend) -> None:
    backend.put("data/r", b"0123456789")
    assert backend.get_range("data/r", 2, 5) == b"234"
    assert backend.get_range("data/r", 8, 100) == b"89"
    assert backend.get_range("data/r", 10, 20) == b""
    assert backend.get_range("data/r", 50, 60) == b""
    assert backend.get_range("data/r", 4, 4) == b""
    with pytest.raises(ValueError, match="invalid range"):
        backend.get_range("data/r", 5, 4)
    with pytest.raises(ValueError, match="invalid range"):
        backend.get_range("data/r", -1, 4)


def test_missing_objects(backend: Backend) -> None:
    with pytest.raises(ObjectNotFound) as raised:
        backend.get("data/missing")
    assert raised.value.object_name == "data/missing"
    with pytest.raises(ObjectNotFound):
        backend.get("data/missing", max_size=10)
    with pytest.raises(ObjectNotFound):
        backend.get_range("data/missing", 0, 10)
    with pytest.raises(ObjectNotFound):
        backend.get_range("data/missing", 3, 3)
    assert not backend.exists("data/missing")
    assert not backend.touch("data/missing")
    assert not backend.remove_unless_reused("data/missing", time.time() + 3600)


def test_max_size_refuses_a_larger_object(backend: Backend) -> None:
    backend.put("data/big", b"x" * 5000)
    assert backend.get("data/big", max_size=5000) == b"x" * 5000
    with pytest.raises(ObjectTooLargeError) as raised:
        backend.get("data/big", max_size=4999)
    assert (raised.value.size, raised.value.limit) == (5000, 4999)
    backend.put("data/empty", b"")
    assert backend.get("data/empty", max_size=10) == b""


def test_list_and_scan_by_prefix_in_order(backend: Backend) -> None:
    stored = {
        "data/chunks/ab/ab01": b"1",
        "data/chunks/ab/ab02": b"22",
        "data/chunks/cd/cd01": b"333",
        "data/manifests/ef/ef01": b"4444",
        "keys/dedup/0011223344556677": b"55555",
    }
    for name, data in reversed(stored.items()):
        assert backend.put(name, data)
    assert list(backend.list()) == sorted(stored)
    assert list(backend.list("data/chunks/")) == sorted(n for n in stored if "chunks" in n)
    # A prefix need not end at a "/": it is a prefix of the name, not a directory.
    assert list(backend.list("data/chunks/a")) == ["data/chunks/ab/ab01", "data/chunks/ab/ab02"]
    assert list(backend.list("data/m")) == ["data/manifests/ef/ef01"]
    assert list(backend.list("nothing/")) == []
    before = time.time()
    infos = list(backend.scan("data/"))
    assert [(i.name, i.size) for i in infos] == [
        (name, len(data)) for name, data in sorted(stored.items()) if name.startswith("data/")
    ]
    # Modification times are the store's clock (S3: whole seconds), not later than now.
    assert all(0 < info.modified_at <= before + 1 for info in infos)


def test_names_that_could_escape_are_refused(backend: Backend) -> None:
    for name in ["../x", "/etc/passwd", "data/../../x", "data//x", ".hidden", "data/", ""]:
        with pytest.raises(ValueError, match="invalid object name"):
            backend.put(name, b"x")
        with pytest.raises(ValueError, match="invalid object name"):
            backend.get(name)
    with pytest.raises(ValueError, match="invalid object name prefix"):
        list(backend.list("../"))


def test_objects_removed_behind_its_back_are_missing(backend: Backend, raw: RawObjects) -> None:
    backend.put("data/gone", b"bytes")
    raw.delete("data/gone")
    assert not backend.exists("data/gone")
    with pytest.raises(ObjectNotFound):
        backend.get("data/gone")
    assert list(backend.list("data/")) == []


def test_remove_unless_reused_keeps_what_is_young(backend: Backend) -> None:
    backend.put("data/chunks/aa/young", b"x")
    an_hour_ago = time.time() - 3600
    assert not backend.remove_unless_reused("data/chunks/aa/young", an_hour_ago)
    assert backend.exists("data/chunks/aa/young")
    in_an_hour = time.time() + 3600
    assert backend.remove_unless_reused("data/chunks/aa/young", in_an_hour)
    assert not backend.exists("data/chunks/aa/young")
    assert not backend.remove_unless_reused("data/chunks/aa/young", in_an_hour)
    # Removed, the name can be stored again.
    assert backend.put("data/chunks/aa/young", b"again")


def test_touch_refreshes_the_modification_time(backend: Backend) -> None:
    """S3 keeps whole seconds: touch until the store's clock has moved on (a poll that ends
    when it does, not a measured wait), and the listed time must follow each touch."""
    backend.put("data/t", b"content")
    first = next(iter(backend.scan("data/t"))).modified_at
    deadline = time.monotonic() + 10
    latest = first
    while latest <= first and time.monotonic() < deadline:
        time.sleep(0.05)
        assert backend.touch("data/t")
        latest = next(iter(backend.scan("data/t"))).modified_at
    assert latest > first
    assert backend.get("data/t") == b"content"
    # A cutoff between the two times: the touched object is young, and stays.
    assert not backend.remove_unless_reused("data/t", (first + latest) / 2)
    assert backend.exists("data/t")
