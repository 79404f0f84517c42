"""Fixtures for the blob store tests: a real backend, a small chunk size.

``backend`` (and ``store`` on it) is a local directory under tmp_path, or, in a module that sets
``BACKENDS = ["local", "s3"]``, each of those in turn: the S3 one is a key prefix of its own in
the session's real SeaweedFS (tests/support/seaweedfs.py). ``raw`` reaches the stored objects
behind the backend's back (to damage, remove or list them) on either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from polaris.config import S3Settings
from polaris.storage import (
    BlobStore,
    FileMetadata,
    Keyring,
    LocalBackend,
    create_master_key_file,
    load_master_key_file,
    names,
)
from polaris.storage.backend import Backend, ObjectInfo
from polaris.storage.references import Reference
from polaris.storage.refs import ContentRef

if TYPE_CHECKING:
    from tests.support.seaweedfs import SeaweedFS

CHUNK = 1024


class CountingBackend:
    """Delegates to a real backend and counts the calls (for "touches only what it needs")."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.gets: list[str] = []

    def put(self, name: str, data: bytes) -> bool:
        self.calls["put"] += 1
        return self.inner.put(name, data)

    def get(self, name: str, *, max_size: int | None = None) -> bytes:
        self.calls["get"] += 1
        self.gets.append(name)
        return self.inner.get(name, max_size=max_size)

    def get_range(self, name: str, start: int, end: int) -> bytes:
        self.calls["get_range"] += 1
        self.gets.append(name)
        return self.inner.get_range(name, start, end)

    def exists(self, name: str) -> bool:
        self.calls["exists"] += 1
        return self.inner.exists(name)

    def list(self, prefix: str = "") -> Iterator[str]:
        self.calls["list"] += 1
        return self.inner.list(prefix)

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self.calls["scan"] += 1
        return self.inner.scan(prefix)

    def touch(self, name: str) -> bool:
        self.calls["touch"] += 1
        return self.inner.touch(name)

    def remove_unless_reused(self, name: str, cutoff: float) -> bool:
        self.calls["remove"] += 1
        return self.inner.remove_unless_reused(name, cutoff)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    return path


@pytest.fixture
def keyring(key_file: Path) -> Keyring:
    return load_master_key_file(key_file)


@pytest.fixture
def blob_root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that uses ``backend`` on the module's ``BACKENDS`` (default: local only),
    unless the test names its own with ``@pytest.mark.parametrize("backend_kind", ...)``."""
    if "backend_kind" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        if "backend_kind" in str(marker.args[0]):
            return
    metafunc.parametrize("backend_kind", getattr(metafunc.module, "BACKENDS", ["local"]))


@pytest.fixture
def backend(backend_kind: str, blob_root: Path, request: pytest.FixtureRequest) -> Backend:
    if backend_kind == "s3":
        from polaris.storage.s3 import S3Backend

        return S3Backend(request.getfixturevalue("s3_settings"))
    return LocalBackend(blob_root)


@pytest.fixture
def store(backend: Backend, keyring: Keyring) -> BlobStore:
    return BlobStore.initialise(backend, keyring, chunk_size=CHUNK)


class RawObjects:
    """The stored objects seen directly, not through the backend: files under the local root,
    or keys under the S3 prefix (through boto3)."""

    def __init__(self, backend: Backend, s3: SeaweedFS | None) -> None:
        self.backend = backend
        self.s3 = s3
        self.prefix = ""
        if s3 is not None:
            settings: S3Settings = backend.settings  # type: ignore[attr-defined]
            self.prefix = f"{settings.prefix}/"

    def _path(self, name: str) -> Path:
        assert isinstance(self.backend, LocalBackend)
        return self.backend.root / name

    def read(self, name: str) -> bytes:
        if self.s3 is None:
            return self._path(name).read_bytes()
        body = self.s3.client.get_object(Bucket=self.s3.bucket, Key=self.prefix + name)["Body"]
        return bytes(body.read())

    def write(self, name: str, data: bytes) -> None:
        """Replace an object's bytes (damage it), which Polaris itself never does."""
        if self.s3 is None:
            self._path(name).parent.mkdir(parents=True, exist_ok=True)
            self._path(name).write_bytes(data)
        else:
            self.s3.client.put_object(Bucket=self.s3.bucket, Key=self.prefix + name, Body=data)

    def delete(self, name: str) -> None:
        if self.s3 is None:
            self._path(name).unlink()
        else:
            self.s3.delete_key(self.prefix + name)

    def names(self, prefix: str = "") -> list[str]:
        if self.s3 is None:
            assert isinstance(self.backend, LocalBackend)
            return object_files(self.backend.root, prefix)
        keys = self.s3.keys(self.prefix + prefix)
        return sorted(key[len(self.prefix) :] for key in keys)


@pytest.fixture
def raw(backend: Backend, backend_kind: str, request: pytest.FixtureRequest) -> RawObjects:
    s3 = request.getfixturevalue("seaweedfs") if backend_kind == "s3" else None
    return RawObjects(backend, s3)


def object_files(root: Path, prefix: str = "") -> list[str]:
    """Every visible object under ``root`` by walking the directory itself (not the backend)."""
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith("tmp/") and relative.startswith(prefix):
            found.append(relative)
    return found


def temp_files(root: Path) -> list[Path]:
    return sorted((root / "tmp").iterdir())


class ListedReferences:
    """References held in a list, described by a dict: the database in miniature."""

    def __init__(self) -> None:
        self.items: list[Reference] = []
        self.labels: dict[str, str] = {}

    def version(self, store: BlobStore, data: bytes, label: str) -> tuple[str, ContentRef]:
        content = store.put_bytes(data)
        mid = store.write_manifest(content, FileMetadata(name=label, created_at=datetime.now(UTC)))
        key = f"version:{len(self.items)}"
        self.items.append(Reference(key, content.chunks, mid, content.size, content.sha256))
        self.labels[key] = label
        return mid, content

    def rendition(self, store: BlobStore, data: bytes, label: str) -> ContentRef:
        content = store.put_bytes(data)
        key = f"rendition:{len(self.items)}"
        self.items.append(Reference(key, content.chunks))
        self.labels[key] = label
        return content

    def count(self) -> int:
        return len(self.items)

    def references(self) -> Iterator[Reference]:
        return iter(list(self.items))

    def describe(self, keys: Collection[str]) -> Mapping[str, str]:
        return {key: self.labels[key] for key in keys if key in self.labels}


@pytest.fixture
def refs() -> ListedReferences:
    return ListedReferences()


def chunk_names(content: ContentRef) -> list[str]:
    return [names.chunk_name(c.chunk_id) for c in content.chunks]
