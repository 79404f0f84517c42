"""The S3 backend: objects in a bucket of an S3-compatible store (SeaweedFS, MinIO, Ceph, AWS).

The object ``data/chunks/ab/<id>`` is the key ``<prefix>/data/chunks/ab/<id>``. Reads, listings
and the create-only write go through obstore; the two operations obstore cannot express, a copy
of an object onto itself with replaced metadata (:meth:`S3Backend.touch`) and a delete with an
``If-Match`` precondition (:meth:`S3Backend.remove_unless_reused`), go through boto3.

"Never overwrite" is the store's conditional PUT (``If-None-Match: *``): of concurrent creators
of one key exactly one succeeds, the others get 412 and :meth:`S3Backend.put` returns False. A
store that ignores the header would overwrite silently, so Polaris supports only stores that
honour it (SeaweedFS, tested; AWS S3 since August 2024); see docs/storage-format.md §10a.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import obstore
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)
from obstore.store import S3Store

from polaris.errors import PolarisError, StorageFailure, StorageFull
from polaris.storage.backend import ObjectInfo, ObjectNotFound, ObjectTooLargeError
from polaris.storage.names import check_object_name, check_prefix

if TYPE_CHECKING:
    from polaris.config import S3Settings

#: Markers of "the store is full" in an S3 error: HTTP 507 (MinIO ``XMinioStorageFull``) and
#: the quota errors of SeaweedFS, Ceph RGW and AWS.
_FULL_MARKERS = (
    "http 507",
    "insufficient storage",
    "storagefull",
    "quotaexceeded",
    "quota exceeded",
)
_LIST_PAGE = 1000
#: What obstore raises besides FileNotFoundError (a missing object, caught first).
_ERRORS = (BaseError, OSError)
#: The user metadata a touch sets (S3 requires a change to copy an object onto itself).
TOUCH_METADATA = "polaris-touched"


class S3Backend:
    """Objects as keys in an S3 bucket; see :class:`polaris.storage.backend.Backend`."""

    def __init__(self, settings: S3Settings) -> None:
        if settings.endpoint and not settings.allow_http and settings.endpoint.startswith("http:"):
            raise StorageFailure(
                f"S3 endpoint {settings.endpoint} is plain HTTP; set storage.s3.allow_http to "
                "use it"
            )
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = f"{settings.prefix}/" if settings.prefix else ""
        self.endpoint = settings.endpoint or f"https://s3.{settings.region}.amazonaws.com"
        secret = settings.secret_access_key
        credentials: dict[str, str] = {}
        if settings.access_key_id is not None and secret is not None:
            credentials = {
                "access_key_id": settings.access_key_id,
                "secret_access_key": secret.get_secret_value(),
            }
        endpoint = {"endpoint": settings.endpoint} if settings.endpoint else {}
        self._store = S3Store(
            settings.bucket,
            region=settings.region,
            virtual_hosted_style_request=False,
            **endpoint,  # type: ignore[arg-type]
            **credentials,  # type: ignore[arg-type]
            client_options={
                "allow_http": settings.allow_http,
                "connect_timeout": dt.timedelta(seconds=settings.connect_timeout_seconds),
                "timeout": dt.timedelta(seconds=settings.request_timeout_seconds),
            },
            retry_config={
                "max_retries": settings.max_retries,
                "retry_timeout": dt.timedelta(seconds=settings.retry_timeout_seconds),
                "backoff": {
                    "init_backoff": dt.timedelta(milliseconds=100),
                    "max_backoff": dt.timedelta(seconds=5),
                    "base": 2,
                },
            },
        )
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=None if secret is None else secret.get_secret_value(),
            config=BotoConfig(
                s3={"addressing_style": "path"},
                connect_timeout=settings.connect_timeout_seconds,
                read_timeout=settings.request_timeout_seconds,
                retries={"max_attempts": settings.max_retries + 1, "mode": "standard"},
            ),
        )

    def __repr__(self) -> str:
        return f"S3Backend({self.endpoint!r}, bucket={self.bucket!r}, prefix={self.prefix!r})"

    @property
    def where(self) -> str:
        """The endpoint, bucket and prefix, for error messages and logs."""
        return f"S3 {self.endpoint} bucket {self.bucket}" + (
            f" prefix {self.prefix}" if self.prefix else ""
        )

    def key(self, name: str) -> str:
        """The key of object ``name`` (validated: plain names only)."""
        return self.prefix + check_object_name(name)

    # Writing

    def put(self, name: str, data: bytes) -> bool:
        """A single conditional PUT (``If-None-Match: *``): atomic, never a multipart upload,
        and a 412 (someone else created the key first) is False.

        A PUT whose answer was lost and which the client retried finds its own object and also
        returns False; the object is then stored all the same (content-addressed objects are
        equal under one name; a key store that sees False reports a conflict, and a second try
        finds the keys in place).
        """
        key = self.key(name)
        try:
            obstore.put(self._store, key, data, mode="create", use_multipart=False)
        except (AlreadyExistsError, PreconditionError):
            return False
        except _ERRORS as exc:
            raise self._translate(exc, f"writing {name}") from exc
        return True

    def touch(self, name: str) -> bool:
        """Copy the object onto itself with replaced metadata: the store gives it a new
        LastModified, which is what garbage collection's grace period is measured from.

        The copy happens inside the store (no bytes travel) and is atomic: the object is at every
        moment either the old or the new, identical, copy. False if there is no such object.
        """
        key = self.key(name)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            self._client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE",
                Metadata={TOUCH_METADATA: stamp},
            )
        except ClientError as exc:
            if _client_error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise self._translate_boto(exc, f"touching {name}") from exc
        except BotoCoreError as exc:
            raise self._translate_boto(exc, f"touching {name}") from exc
        return True

    def remove_unless_reused(self, name: str, cutoff: float) -> bool:
        """Read the object's LastModified and ETag, and delete it only if it is not younger than
        ``cutoff``, with ``If-Match`` on that ETag.

        Not atomic against :meth:`touch` as the protocol asks: S3 has no delete conditional on
        the modification time, and a touch keeps the ETag (same bytes). A touch that lands
        between the HEAD and the DELETE (one round trip) is lost, and the writer's new row then
        names a missing object, which ``polaris storage verify`` reports and which makes gc
        refuse to run until it is repaired. docs/storage-format.md §10a says how small the window
        is and how to avoid it.
        """
        key = self.key(name)
        try:
            meta = obstore.head(self._store, key)
        except FileNotFoundError:
            return False
        except _ERRORS as exc:
            raise self._translate(exc, f"removing {name}") from exc
        if meta["last_modified"].timestamp() > cutoff:
            return False
        condition = {"IfMatch": meta["e_tag"]} if meta["e_tag"] else {}
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key, **condition)
        except ClientError as exc:
            code = _client_error_code(exc)
            if code in {"PreconditionFailed", "412", "NoSuchKey", "404"}:
                return False
            raise self._translate_boto(exc, f"removing {name}") from exc
        except BotoCoreError as exc:
            raise self._translate_boto(exc, f"removing {name}") from exc
        return True

    # Reading

    def get(self, name: str, *, max_size: int | None = None) -> bytes:
        """With ``max_size``, a ranged GET of at most ``max_size + 1`` bytes: a planted huge
        object is never read whole."""
        key = self.key(name)
        what = f"reading {name}"
        try:
            if max_size is None:
                return bytes(obstore.get(self._store, key).bytes())
            result = obstore.get(self._store, key, options={"range": (0, max_size + 1)})
            data = bytes(result.bytes())
        except FileNotFoundError:
            raise ObjectNotFound(name) from None
        except _ERRORS as exc:
            if _is_invalid_range(exc):  # an empty object: no byte 0
                return self._empty_if_present(name)
            raise self._translate(exc, what) from exc
        if len(data) > max_size:
            raise ObjectTooLargeError(name, int(result.meta["size"]), max_size)
        return data

    def get_range(self, name: str, start: int, end: int) -> bytes:
        if start < 0 or end < start:
            raise ValueError(f"invalid range [{start}, {end})")
        key = self.key(name)
        if start == end:
            return self._empty_if_present(name)
        try:
            return bytes(obstore.get_range(self._store, key, start=start, end=end))
        except FileNotFoundError:
            raise ObjectNotFound(name) from None
        except _ERRORS as exc:
            if _is_invalid_range(exc):  # starts at or past the end
                return self._empty_if_present(name)
            raise self._translate(exc, f"reading {name}") from exc

    def exists(self, name: str) -> bool:
        try:
            obstore.head(self._store, self.key(name))
        except FileNotFoundError:
            return False
        except _ERRORS as exc:
            raise self._translate(exc, f"checking {name}") from exc
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        for info in self.scan(prefix):
            yield info.name

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """ListObjectsV2 pages, in key order (S3 lists keys in UTF-8 byte order).

        obstore lists by whole path segments, so the listing starts at the last ``/`` of
        ``prefix`` and the rest of it is matched here.
        """
        check_prefix(prefix)
        base = prefix.rpartition("/")[0]
        listed = (self.prefix + base) or None
        try:
            for page in obstore.list(self._store, listed, chunk_size=_LIST_PAGE):
                for meta in page:
                    path = meta["path"]
                    if not path.startswith(self.prefix):
                        continue
                    name = path[len(self.prefix) :]
                    if name.startswith(prefix) and not name.endswith("/"):
                        yield ObjectInfo(name, meta["size"], meta["last_modified"].timestamp())
        except _ERRORS as exc:
            raise self._translate(exc, f"listing {prefix or '/'}") from exc

    # Errors

    def _empty_if_present(self, name: str) -> bytes:
        if not self.exists(name):
            raise ObjectNotFound(name)
        return b""

    def _translate(self, exc: Exception, what: str) -> PolarisError:
        """obstore's error as StorageFull (a quota, a full store) or StorageFailure (anything
        else: refused connection, timeout, 5xx, denied access), naming the store."""
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
            return StorageFailure(f"{what}: {self.where} denied access (check the credentials)")
        return self._failure(what, _reason(str(exc)))

    def _translate_boto(self, exc: Exception, what: str) -> PolarisError:
        if isinstance(exc, ClientError):
            code = _client_error_code(exc)
            if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}:
                return StorageFailure(f"{what}: {self.where} denied access (check the credentials)")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            message = exc.response.get("Error", {}).get("Message", "")
            return self._failure(what, f"HTTP {status}: {code}: {message}")
        if isinstance(exc, EndpointConnectionError):
            return self._failure(what, "could not connect (is the store running?)")
        if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
            return self._failure(what, "timed out")
        return self._failure(what, _first_line(str(exc)))

    def _failure(self, what: str, reason: str) -> PolarisError:
        detail = f"{what} on {self.where}: {reason}"
        if any(marker in reason.lower() for marker in _FULL_MARKERS):
            return StorageFull(detail)
        return StorageFailure(detail)


def _client_error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_invalid_range(exc: Exception) -> bool:
    text = str(exc)
    return "status code: 416" in text or "<Code>InvalidRange</Code>" in text


_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_MESSAGE = re.compile(r"<Message>([^<]{1,300})</Message>")


def _reason(text: str) -> str:
    """The useful part of obstore's long error text: the HTTP status with the S3 error code and
    message, or what went wrong with the connection."""
    if "ConnectionRefused" in text or "Connection refused" in text:
        return "could not connect: connection refused (is the store running?)"
    if "kind: Timeout" in text or "timed out" in text.lower():
        return "timed out"
    status = _STATUS.search(text)
    if status is not None:
        code = _CODE.search(text)
        message = _MESSAGE.search(text)
        parts = [f"HTTP {status.group(1)}"]
        parts += [m.group(1) for m in (code, message) if m is not None]
        return ": ".join(parts)
    return _first_line(text)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line if len(line) <= limit else line[: limit - 1] + "…"
