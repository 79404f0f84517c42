"""The local backend: atomic, write-once, validated names, failures that leave nothing behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from polaris.errors import StorageFailure, StorageFull
from polaris.storage import LocalBackend, ObjectNotFound, ObjectTooLargeError, _fsio
from tests.storage.conftest import object_files, temp_files


def test_put_get_exists_list(backend: LocalBackend) -> None:
    assert backend.put("data/chunks/ab/one", b"first")
    assert backend.put("data/chunks/cd/two", b"second")
    assert backend.put("keys/k", b"key")
    assert backend.get("data/chunks/ab/one") == b"first"
    assert backend.exists("data/chunks/cd/two")
    assert not backend.exists("data/chunks/cd/three")
    assert list(backend.list("")) == ["data/chunks/ab/one", "data/chunks/cd/two", "keys/k"]
    assert list(backend.list("data/")) == ["data/chunks/ab/one", "data/chunks/cd/two"]
    assert list(backend.list("data/chunks/c")) == ["data/chunks/cd/two"]
    assert list(backend.list("nothing/")) == []


def test_get_range_is_clamped_like_http(backend: LocalBackend) -> None:
    backend.put("a/b", b"0123456789")
    assert backend.get_range("a/b", 2, 5) == b"234"
    assert backend.get_range("a/b", 8, 50) == b"89"
    assert backend.get_range("a/b", 20, 30) == b""
    with pytest.raises(ValueError):
        backend.get_range("a/b", 5, 2)


def test_never_overwrites(backend: LocalBackend, blob_root: Path) -> None:
    assert backend.put("a/b", b"original")
    assert backend.put("a/b", b"replacement") is False
    assert backend.get("a/b") == b"original"
    assert temp_files(blob_root) == []


def test_missing_and_too_large(backend: LocalBackend) -> None:
    with pytest.raises(ObjectNotFound):
        backend.get("a/none")
    backend.put("a/big", b"x" * 100)
    with pytest.raises(ObjectTooLargeError):
        backend.get("a/big", max_size=99)
    assert backend.get("a/big", max_size=100) == b"x" * 100


@pytest.mark.parametrize(
    "name",
    [
        "../escape",
        "a/../../b",
        "/etc/passwd",
        "a//b",
        ".hidden",
        "a/.tmp-x",
        "",
        "A/b",
        "tmp/x",
        "a/",
    ],
)
def test_names_that_could_escape_are_refused(backend: LocalBackend, name: str) -> None:
    with pytest.raises(ValueError):
        backend.put(name, b"x")
    with pytest.raises(ValueError):
        backend.get(name)


def test_symlinks_are_not_followed(backend: LocalBackend, blob_root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside"
    secret.write_bytes(b"not yours")
    (blob_root / "a").mkdir()
    (blob_root / "a" / "link").symlink_to(secret)
    assert not backend.exists("a/link")
    assert list(backend.list("a/")) == []
    with pytest.raises(ObjectNotFound):
        backend.get("a/link")


def test_objects_are_private_files(backend: LocalBackend, blob_root: Path) -> None:
    backend.put("a/b", b"x")
    assert (blob_root / "a" / "b").stat().st_mode & 0o077 == 0


def _fail_after_half(code: int) -> object:
    real = _fsio.write_all

    def write_all(fd: int, data: bytes) -> None:
        real(fd, data[: len(data) // 2])
        raise OSError(code, os.strerror(code))

    return write_all


def test_disk_full_while_writing(
    backend: LocalBackend, blob_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.put("a/first", b"kept")
    monkeypatch.setattr(_fsio, "write_all", _fail_after_half(errno.ENOSPC))
    with pytest.raises(StorageFull, match=r"writing a/second: .*ENOSPC"):
        backend.put("a/second", b"y" * 10_000)
    assert not backend.exists("a/second")
    assert object_files(blob_root) == ["a/first"]
    assert temp_files(blob_root) == []


def test_io_error_while_writing(
    backend: LocalBackend, blob_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fsio, "write_all", _fail_after_half(errno.EIO))
    with pytest.raises(StorageFailure, match="EIO"):
        backend.put("a/b", b"y" * 10_000)
    assert object_files(blob_root) == []
    assert temp_files(blob_root) == []


def test_failed_fsync_is_a_failure_and_leaves_nothing(
    backend: LocalBackend, blob_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.put("a/first", b"kept")

    def fsync_fd(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_fsio, "fsync_fd", fsync_fd)
    with pytest.raises(StorageFailure, match="writing a/second"):
        backend.put("a/second", b"data")
    assert object_files(blob_root) == ["a/first"]
    assert temp_files(blob_root) == []


def test_failed_directory_fsync_takes_the_new_name_back(
    backend: LocalBackend, blob_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.put("a/first", b"kept")
    published: list[bool] = []

    def fsync_dir(path: Path) -> None:
        published.append((blob_root / "a" / "second").exists())
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_fsio, "fsync_dir", fsync_dir)
    with pytest.raises(StorageFailure):
        backend.put("a/second", b"data")
    assert published == [True]  # it was linked, then taken back because it was not durable
    assert object_files(blob_root) == ["a/first"]
    assert temp_files(blob_root) == []


def test_no_space_for_a_new_directory(
    backend: LocalBackend, blob_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def mkdir(path: object, mode: int = 0o777) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "mkdir", mkdir)
    with pytest.raises(StorageFull):
        backend.put("new/dir/obj", b"x")
    monkeypatch.undo()
    assert object_files(blob_root) == []
