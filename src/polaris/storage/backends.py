"""Choosing the blob backend from the settings: a local directory or an S3 bucket.

``open_backend`` is the one place that builds a backend for an instance (server, worker, CLI);
``storage_settings_from_url`` turns the ``--storage`` form of a location into settings::

    /srv/polaris/blobs                                   a local directory
    s3://bucket                                          AWS S3 (region us-east-1)
    s3://bucket/some/prefix?endpoint=http://127.0.0.1:8333&region=eu-central-1&allow_http=true

Credentials are never part of the URL (it ends up in shell histories and process lists): they
come from ``POLARIS_STORAGE__S3__ACCESS_KEY_ID`` / ``..._SECRET_ACCESS_KEY`` or the AWS chain.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from polaris.config import S3Settings, Settings, StorageSettings
from polaris.storage.backend import Backend
from polaris.storage.local import LocalBackend

_URL_OPTIONS = {"endpoint", "region", "allow_http"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def open_backend(settings: Settings) -> Backend:
    """The backend ``settings.storage`` describes (nothing is read or written yet for S3; the
    local backend makes its directory)."""
    storage = settings.storage
    if storage.backend == "s3":
        from polaris.storage.s3 import S3Backend  # obstore and boto3 only where S3 is used

        assert storage.s3 is not None  # StorageSettings validates it
        return S3Backend(storage.s3)
    return LocalBackend(settings.resolved_blob_path)


def storage_settings_from_url(url: str) -> StorageSettings:
    """Settings for a local path or an ``s3://bucket[/prefix][?endpoint=&region=&allow_http=]``
    URL; ValueError (naming what is wrong) otherwise."""
    if not url.strip():
        raise ValueError("empty storage location")
    parts = urlsplit(url)
    if parts.scheme == "s3":
        return StorageSettings(backend="s3", s3=_s3_settings(url))
    if parts.scheme == "file":
        if parts.netloc not in {"", "localhost"} or parts.query:
            raise ValueError(f"storage location {url!r}: file:// takes a path only")
        return StorageSettings(backend="local", path=Path(parts.path))
    if "://" in url:
        raise ValueError(f"storage location {url!r}: expected a directory or an s3:// URL")
    return StorageSettings(backend="local", path=Path(url))


def _s3_settings(url: str) -> S3Settings:
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "storage URL: put no credentials in the URL; set POLARIS_STORAGE__S3__ACCESS_KEY_ID "
            "and POLARIS_STORAGE__S3__SECRET_ACCESS_KEY"
        )
    if not parts.hostname:
        raise ValueError(f"storage URL {url!r}: no bucket (s3://bucket/prefix)")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    unknown = sorted(set(query) - _URL_OPTIONS)
    if unknown:
        raise ValueError(
            f"storage URL: unknown option(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_URL_OPTIONS))})"
        )
    options: dict[str, str] = {}
    for option, values in query.items():
        if len(values) != 1 or not values[0]:
            raise ValueError(f"storage URL: give {option} once, with a value")
        options[option] = values[0]
    allow_http = options.get("allow_http", "").lower()
    if allow_http and allow_http not in _TRUE | _FALSE:
        raise ValueError("storage URL: allow_http must be true or false")
    endpoint = options.get("endpoint")
    if endpoint is not None and urlsplit(endpoint).scheme not in {"http", "https"}:
        raise ValueError(f"storage URL: endpoint {endpoint!r} must be an http(s):// URL")
    # An http:// endpoint given explicitly is consent to plain HTTP unless allow_http says no.
    plain = endpoint is not None and endpoint.startswith("http://")
    return S3Settings(
        # The bucket as written: urlsplit lower-cases the host name, S3 bucket names are lower
        # case anyway, and a wrong case should fail visibly at the store, not be fixed silently.
        bucket=parts.netloc,
        prefix=parts.path.strip("/"),
        endpoint=endpoint,
        region=options.get("region", "us-east-1"),
        allow_http=allow_http in _TRUE if allow_http else plain,
    )
