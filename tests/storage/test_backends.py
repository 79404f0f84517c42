"""Choosing the backend: ``--storage`` locations, settings from the file and the environment,
and ``open_backend`` building the one they describe (an instance on S3 included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from polaris.config import S3Settings, StorageSettings, load_settings
from polaris.storage import BlobStore, Keyring, LocalBackend
from polaris.storage.backends import open_backend, storage_settings_from_url
from polaris.storage.s3 import S3Backend


def test_a_path_is_the_local_backend() -> None:
    assert storage_settings_from_url("/srv/polaris/blobs") == StorageSettings(
        backend="local", path=Path("/srv/polaris/blobs")
    )
    assert storage_settings_from_url("relative/blobs").path == Path("relative/blobs")
    assert storage_settings_from_url("file:///srv/blobs").path == Path("/srv/blobs")


def test_an_s3_url_with_prefix_endpoint_and_region() -> None:
    settings = storage_settings_from_url(
        "s3://polaris-blobs/state/hq?endpoint=http://127.0.0.1:8333&region=ap-south-1"
    )
    assert settings.backend == "s3"
    assert settings.s3 == S3Settings(
        bucket="polaris-blobs",
        prefix="state/hq",
        endpoint="http://127.0.0.1:8333",
        region="ap-south-1",
        allow_http=True,  # an http:// endpoint written out is consent to plain HTTP
    )
    bare = storage_settings_from_url("s3://polaris-blobs")
    assert bare.s3 is not None
    assert (bare.s3.prefix, bare.s3.endpoint, bare.s3.allow_http) == ("", None, False)
    https = storage_settings_from_url("s3://b-1/p?endpoint=https://s3.example&allow_http=false")
    assert https.s3 is not None and not https.s3.allow_http


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("s3://key:secret@bucket/p", "no credentials in the URL"),
        ("s3:///prefix", "no bucket"),
        ("s3://bucket?colour=blue", "unknown option"),
        ("s3://bucket?region=a&region=b", "once"),
        ("s3://bucket?endpoint=ftp://host", "http"),
        ("s3://bucket?allow_http=maybe", "allow_http"),
        ("s3://bucket/../up", "prefix"),
        ("s3://ab", "bucket"),
        ("gs://bucket", "expected a directory or an s3:// URL"),
        ("file://host/path", "file://"),
    ],
)
def test_bad_storage_locations_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises((ValueError, ValidationError), match=message):
        storage_settings_from_url(url)


def test_s3_settings_come_from_the_file_and_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "polaris.toml").write_text(
        '[storage]\nbackend = "s3"\ngc_grace_days = 3\n'
        '[storage.s3]\nbucket = "blobs"\nendpoint = "https://s3.example"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("POLARIS_STORAGE__S3__ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("POLARIS_STORAGE__S3__SECRET_ACCESS_KEY", "top secret")
    monkeypatch.setenv("POLARIS_STORAGE__S3__PREFIX", "/hq/")
    settings = load_settings(tmp_path)
    s3 = settings.storage.s3
    assert s3 is not None and settings.storage.gc_grace_days == 3
    assert (s3.bucket, s3.endpoint, s3.prefix, s3.access_key_id) == (
        "blobs",
        "https://s3.example",
        "hq",
        "AKID",
    )
    assert s3.secret_access_key is not None
    assert s3.secret_access_key.get_secret_value() == "top secret"
    assert "top secret" not in repr(settings)
    backend = open_backend(settings)
    assert isinstance(backend, S3Backend)
    assert "top secret" not in repr(backend)


def test_s3_without_its_settings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"\[storage.s3\]"):
        load_settings(tmp_path, storage={"backend": "s3"})


def test_open_backend_defaults_to_the_local_directory(tmp_path: Path) -> None:
    backend = open_backend(load_settings(tmp_path))
    assert isinstance(backend, LocalBackend) and backend.root == tmp_path / "blobs"
    elsewhere = load_settings(tmp_path, storage={"path": str(tmp_path / "other")})
    assert open_backend(elsewhere).root == tmp_path / "other"  # type: ignore[attr-defined]


def test_an_instance_opens_its_blob_store_on_s3(
    tmp_path: Path, s3_settings: S3Settings, keyring: Keyring
) -> None:
    settings = load_settings(
        tmp_path, storage={"backend": "s3", "s3": s3_settings.model_dump(), "chunk_size": 4096}
    )
    first = BlobStore.initialise(open_backend(settings), keyring, chunk_size=4096)
    ref = first.put_bytes(b"stored through one node")
    other_node = BlobStore.open(open_backend(settings), keyring, chunk_size=4096)
    assert other_node.read_bytes(ref) == b"stored through one node"
