"""Error types that services raise.

Each carries a stable ``code`` meant for clients (and translated by the UI) and the HTTP status the
one handler in ``polaris.web.problems`` maps it to. Anything that is not a ``PolarisError`` is a
bug: it is logged and answered as a plain 500 without details.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PolarisError(Exception):
    """Base of every error a client may see."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    #: Whether ``extra`` goes into the problem document (else it is for the server only).
    public_extra: ClassVar[bool] = False

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code
        #: Response headers the error needs (``Content-Range`` for a 416, say).
        self.headers = headers or {}
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.extra = extra


class ValidationFailed(PolarisError):
    code = "validation_failed"
    status = 422


class NotAuthenticated(PolarisError):
    code = "not_authenticated"
    status = 401


class MfaRequired(PolarisError):
    code = "mfa_required"
    status = 401


class PermissionDenied(PolarisError):
    """The actor may see the object but not do this to it (else raise NotFound)."""

    code = "permission_denied"
    status = 403


class NotFound(PolarisError):
    """The object does not exist, or the actor may not know that it does."""

    code = "not_found"
    status = 404


class Conflict(PolarisError):
    code = "conflict"
    status = 409


class Gone(PolarisError):
    """What was asked for existed and is no longer kept (changes past their retention)."""

    code = "gone"
    status = 410


class PreconditionFailed(PolarisError):
    code = "precondition_failed"
    status = 412


class PayloadTooLarge(PolarisError):
    code = "payload_too_large"
    status = 413


class Throttled(PolarisError):
    """Too many attempts; ``retry_after`` seconds until the next one is considered."""

    code = "throttled"
    status = 429

    def __init__(self, detail: str = "", *, retry_after: float, **extra: Any) -> None:
        super().__init__(detail or "too many attempts", retry_after=retry_after, **extra)
        self.retry_after = retry_after


class UnsupportedMediaType(PolarisError):
    code = "unsupported_media_type"
    status = 415


class QuotaExceeded(PolarisError):
    code = "quota_exceeded"
    status = 507


class StorageFull(PolarisError):
    """The disk or object store refused the write (ENOSPC); nothing was stored."""

    code = "storage_full"
    status = 507


class StorageFailure(PolarisError):
    """An I/O error (EIO, failed fsync) stopped a write; nothing was reported as stored."""

    code = "storage_failure"
    status = 503


class IntegrityError(PolarisError):
    """Stored data failed authentication or a checksum; it is never served."""

    code = "integrity_error"
    status = 500


class AuditUnavailable(PolarisError):
    """The audit record could not be written, so the action did not happen."""

    code = "audit_unavailable"
    status = 503


class InstanceReadOnly(PolarisError):
    """The incident switch is on: reads are served, writes refused (``polaris.web.readonly``).

    ``reason`` and ``since`` (IST) go into the problem document for clients to show."""

    code = "instance_read_only"
    status = 503
    public_extra = True
