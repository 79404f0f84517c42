"""What only the S3 backend has: key prefixes, the store's errors in Polaris's terms, a store
stopped in the middle of a write, and the metadata a touch leaves (on a real SeaweedFS)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from polaris.config import S3Settings
from polaris.errors import StorageFailure
from polaris.storage import BlobStore, Keyring, names
from polaris.storage.s3 import TOUCH_METADATA, S3Backend
from tests.storage.conftest import CHUNK
from tests.support.seaweedfs import SeaweedFS


@pytest.fixture
def restarted(seaweedfs: SeaweedFS) -> Iterator[SeaweedFS]:
    """The session's SeaweedFS, running again after a test that killed it."""
    try:
        yield seaweedfs
    finally:
        if not seaweedfs.running:
            seaweedfs.start()


def test_objects_live_under_the_prefix_and_prefixes_do_not_mix(
    seaweedfs: SeaweedFS, s3_settings: S3Settings
) -> None:
    one = S3Backend(s3_settings)
    other = S3Backend(s3_settings.model_copy(update={"prefix": s3_settings.prefix + "-other"}))
    assert one.put("data/chunks/ab/x", b"one")
    assert other.put("data/chunks/ab/x", b"other")
    assert seaweedfs.keys(s3_settings.prefix + "/") == [f"{s3_settings.prefix}/data/chunks/ab/x"]
    assert list(one.list()) == ["data/chunks/ab/x"]
    assert one.get("data/chunks/ab/x") == b"one"
    assert other.get("data/chunks/ab/x") == b"other"


def test_touch_copies_the_object_onto_itself_with_new_metadata(
    seaweedfs: SeaweedFS, s3_settings: S3Settings
) -> None:
    backend = S3Backend(s3_settings)
    backend.put("data/t", b"bytes")
    assert backend.touch("data/t")
    key = f"{s3_settings.prefix}/data/t"
    head = seaweedfs.client.head_object(Bucket=seaweedfs.bucket, Key=key)
    assert TOUCH_METADATA in head["Metadata"]
    assert backend.get("data/t") == b"bytes"
    assert seaweedfs.keys(key) == [key]  # no second object, no marker


def test_wrong_credentials_are_a_storage_failure_naming_the_store(
    seaweedfs: SeaweedFS, s3_settings: S3Settings
) -> None:
    from pydantic import SecretStr

    wrong = S3Backend(s3_settings.model_copy(update={"secret_access_key": SecretStr("nope")}))
    for attempt in (
        lambda: wrong.put("data/x", b"x"),
        lambda: wrong.get("data/x"),
        lambda: list(wrong.list()),
        lambda: wrong.touch("data/x"),
    ):
        with pytest.raises(StorageFailure) as raised:
            attempt()
        assert seaweedfs.endpoint in raised.value.detail
        assert "polaris-test" in raised.value.detail


def test_a_missing_bucket_is_a_storage_failure(
    seaweedfs: SeaweedFS, s3_settings: S3Settings
) -> None:
    backend = S3Backend(s3_settings.model_copy(update={"bucket": "no-such-bucket"}))
    with pytest.raises(StorageFailure, match="no-such-bucket"):
        backend.put("data/x", b"x")
    with pytest.raises(StorageFailure, match="no-such-bucket"):
        list(backend.list())


def test_plain_http_needs_allow_http(s3_settings: S3Settings) -> None:
    with pytest.raises(StorageFailure, match="allow_http"):
        S3Backend(s3_settings.model_copy(update={"allow_http": False}))


def test_store_stopped_in_the_middle_of_a_write(
    restarted: SeaweedFS, s3_settings: S3Settings, keyring: Keyring
) -> None:
    """The store dies while the third of five chunks is cut: StorageFailure naming the endpoint,
    the chunks stored before it (the first two, or fewer: chunks are stored several at a time,
    behind the reading of the source) are there after the restart, and the same write then
    completes."""
    store = BlobStore.initialise(S3Backend(s3_settings), keyring, chunk_size=CHUNK)
    data = os.urandom(CHUNK * 5)

    def source() -> Iterator[bytes]:
        for index in range(5):
            if index == 2:
                restarted.kill()
            yield data[index * CHUNK : (index + 1) * CHUNK]

    with pytest.raises(StorageFailure) as raised:
        store.put_stream(source())
    assert restarted.endpoint in raised.value.detail
    assert "could not connect" in raised.value.detail

    restarted.start()
    stored = [
        n for n in restarted.keys(f"{s3_settings.prefix}/{names.CHUNKS}") if "/probe/" not in n
    ]
    assert len(stored) <= 2
    ref = store.put_stream(data)
    assert b"".join(store.open_stream(ref)) == data
    report = store.verify()
    assert report.ok and len(report.unreferenced_chunks) == 5
