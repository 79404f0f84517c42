"""Where backups go: one target, a directory or an S3 bucket, holding both parts.

Layout: ``<target>/blobs/`` is a blob store of its own (the same object names as the primary, so a
restored instance can use it as its store); ``<target>/db/`` is Litestream's replica of the SQLite
database; ``<target>/config/`` holds the settings (``polaris.backup.restore``). On S3 they are key
prefixes under the target's prefix, and what Polaris writes there is locked
(``polaris.backup.objectlock``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polaris.config import BackupSettings, S3Settings, Settings
from polaris.errors import ValidationFailed
from polaris.storage.backend import Backend
from polaris.storage.backends import storage_settings_from_url
from polaris.storage.local import LocalBackend

BLOBS = "blobs"
DATABASE = "db"


class BackupNotConfigured(ValidationFailed):
    """``backup.target`` is not set."""


@dataclass(frozen=True)
class LockStatus:
    """An S3 target's object lock as ``backup status`` reports it (``polaris.backup.objectlock``
    reads it)."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class BackupTarget:
    """The target as parsed: a directory, or S3 settings (credentials from ``[backup]``)."""

    directory: Path | None
    s3: S3Settings | None
    #: On S3: how long each object written is locked (``backup.lock_days``).
    lock_days: int = 30

    @property
    def where(self) -> str:
        if self.directory is not None:
            return str(self.directory)
        assert self.s3 is not None
        prefix = f"/{self.s3.prefix}" if self.s3.prefix else ""
        return f"s3://{self.s3.bucket}{prefix}" + (
            f" at {self.s3.endpoint}" if self.s3.endpoint else ""
        )

    def blob_backend(self) -> Backend:
        """The target's blob store (a local directory is made if missing)."""
        return self.backend(BLOBS)

    def backend(self, part: str = "") -> Backend:
        """The target's ``part`` (its root by default) as a backend; on S3 each object written
        is locked when the bucket has object lock."""
        if self.directory is not None:
            return LocalBackend(self.directory / part if part else self.directory)
        from polaris.backup.objectlock import locked_backend  # boto3 only where S3 is used

        return locked_backend(self, part)

    def lock_status(self) -> LockStatus | None:
        """Whether the S3 bucket is versioned and locked (COMPLIANCE, at least ``lock_days``);
        None for a directory target, which has no such thing to check."""
        if self.s3 is None:
            return None
        from polaris.backup.objectlock import lock_status

        return lock_status(self)

    def litestream_replica(self) -> dict[str, Any]:
        """The ``replica`` section of Litestream's configuration. Credentials are not in it:
        Litestream reads them from its environment (:meth:`litestream_environment`)."""
        if self.directory is not None:
            return {"type": "file", "path": str(self.directory / DATABASE)}
        assert self.s3 is not None
        replica: dict[str, Any] = {
            "type": "s3",
            "bucket": self.s3.bucket,
            "path": _join(self.s3.prefix, DATABASE),
            "region": self.s3.region,
        }
        if self.s3.endpoint:
            replica["endpoint"] = self.s3.endpoint
            replica["force-path-style"] = True
        return replica

    def litestream_environment(self) -> dict[str, str]:
        """Variables Litestream needs besides the inherited ones (the S3 credentials)."""
        if self.s3 is None or self.s3.access_key_id is None:
            return {}
        secret = self.s3.secret_access_key
        return {
            "LITESTREAM_ACCESS_KEY_ID": self.s3.access_key_id,
            "LITESTREAM_SECRET_ACCESS_KEY": "" if secret is None else secret.get_secret_value(),
        }


def backup_target(settings: Settings) -> BackupTarget:
    """The target of ``settings.backup``; ``BackupNotConfigured`` when there is none."""
    return target_of(settings.backup)


def target_of(backup: BackupSettings) -> BackupTarget:
    if not backup.target:
        raise BackupNotConfigured(
            "no backup target: set backup.target in polaris.toml (a directory on another disk "
            "or an s3:// URL; docs/resilience.md)"
        )
    try:
        storage = storage_settings_from_url(backup.target)
    except ValueError as error:
        raise ValidationFailed(f"backup.target: {error}") from error
    if storage.s3 is None:
        assert storage.path is not None
        return BackupTarget(directory=storage.path.absolute(), s3=None, lock_days=backup.lock_days)
    s3 = storage.s3.model_copy(
        update={
            "access_key_id": backup.access_key_id,
            "secret_access_key": backup.secret_access_key,
        }
    )
    return BackupTarget(directory=None, s3=s3, lock_days=backup.lock_days)


def _join(prefix: str, part: str) -> str:
    return f"{prefix}/{part}" if prefix else part
