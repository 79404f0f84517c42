"""Object lock on an S3 backup target: the bucket made and checked, and every write locked.

What it protects against: an attacker who holds the instance's credentials for the target (they
are on the server, so ransomware that owns the server has them) could otherwise delete or
overwrite the backup together with the data. In a versioned bucket a plain DELETE only adds a
delete marker and a PUT over a key adds a version; with object lock in COMPLIANCE mode no one,
the bucket's owner included, can delete a version or shorten its lock before the lock ends.

* :func:`init_target` (``polaris backup init-target``) makes the bucket with object lock (which
  turns versioning on) and a default retention of COMPLIANCE for ``backup.lock_days``, or
  completes an existing bucket (versioning on, then the lock), never shortening a longer default;
  and gives it a policy that denies everyone ``s3:DeleteObjectVersion``, which keeps versions
  whose lock has ended too.
* :func:`lock_status` is what ``backup status`` and ``backup run`` check: versioning on, object
  lock on, a COMPLIANCE default of at least ``lock_days``.
* :class:`LockedS3Backend` is the target's writer. Each PUT names its own retention (COMPLIANCE
  until now + ``lock_days``) rather than relying on the bucket's default: credentials that may
  write may also change the default rule on some stores (SeaweedFS's ``Write`` action), and an
  object written after such a change would not be locked. It also sends Content-MD5: AWS wants a
  checksum on a PUT that sets a retention, and the store then checks the bytes.

What SeaweedFS 4.48 was seen to do is in docs/resilience.md ("The target").
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from polaris import clock
from polaris.backup.target import BackupTarget, LockStatus
from polaris.config import S3Settings
from polaris.errors import PolarisError, StorageFailure
from polaris.storage.s3 import S3Backend

COMPLIANCE = "COMPLIANCE"
#: How often a writer that found the bucket without object lock asks again (a lock, once on,
#: cannot be turned off, so a positive answer is kept).
RECHECK_SECONDS = 60.0
_MISSING_BUCKET = {"NoSuchBucket"}
_NO_LOCK = {"ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"}
_DENIED = {"AccessDenied", "403"}
#: The statement of the bucket policy init-target adds (found again by its Sid).
KEEP_VERSIONS_SID = "PolarisBackupKeepsVersions"


@dataclass(frozen=True)
class BucketLock:
    """What the bucket says about itself. ``error``: it could not be read (denied, unreachable)."""

    exists: bool = True
    #: "Enabled", "Suspended", or None (versioning never turned on).
    versioning: str | None = None
    object_lock: bool = False
    #: The default retention, if the bucket has one.
    mode: str | None = None
    days: int | None = None
    error: str | None = None

    def problems(self, lock_days: int) -> list[str]:
        """What is wrong with the bucket as a backup target, in words; empty when nothing is."""
        if self.error is not None:
            return [self.error]
        if not self.exists:
            return ["the bucket does not exist (polaris backup init-target makes it)"]
        found = []
        if self.versioning != "Enabled":
            found.append(
                "versioning is off: a deleted or overwritten backup object is gone for good"
            )
        if not self.object_lock:
            found.append(
                "no object lock: whoever holds the target's credentials can delete the backup"
            )
        elif self.mode is None:
            found.append("no default retention: objects written by other tools are not locked")
        elif self.mode != COMPLIANCE:
            found.append(
                f"the default retention is {self.mode}, not COMPLIANCE: credentials allowed to "
                "bypass it can delete the backup"
            )
        elif self.days is None or self.days < lock_days:
            found.append(
                f"the default retention is {self.days} day(s), shorter than backup.lock_days "
                f"({lock_days})"
            )
        return found


class LockedS3Backend(S3Backend):
    """The S3 target's objects; every object it writes is locked (COMPLIANCE, ``lock_days``)
    when the bucket has object lock, written create-only either way."""

    def __init__(
        self,
        settings: S3Settings,
        *,
        lock_days: int,
        now: Callable[[], dt.datetime] = clock.utcnow,
    ) -> None:
        super().__init__(settings)
        self.lock_days = lock_days
        self._now = now
        self._locked = False
        self._checked_at: float | None = None
        #: The lock each write sets: ``lock_days``, or the bucket's default if that is longer.
        self._days = lock_days

    # Writing

    def put(self, name: str, data: bytes) -> bool:
        """A conditional PUT (``If-None-Match: *``: False when the key exists) that sets the
        object's retention; a plain create-only PUT when the bucket has no object lock (a
        retention on such a bucket is an error, and ``backup status`` reports the bucket)."""
        if not self.bucket_locked():
            return super().put(name, data)
        key = self.key(name)
        until = self._now() + dt.timedelta(days=self._days)
        digest = hashlib.md5(data, usedforsecurity=False).digest()
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                IfNoneMatch="*",
                ContentMD5=base64.b64encode(digest).decode("ascii"),
                ObjectLockMode=COMPLIANCE,
                ObjectLockRetainUntilDate=until,
            )
        except ClientError as exc:
            code = _code(exc)
            if code in {"PreconditionFailed", "412"}:
                return False
            if code in _DENIED:
                raise StorageFailure(
                    f"writing {name}: {self.where} denied a locked write (the backup's "
                    "credentials need s3:PutObject and s3:PutObjectRetention)"
                ) from exc
            raise self._translate_boto(exc, f"writing {name}") from exc
        except BotoCoreError as exc:
            raise self._translate_boto(exc, f"writing {name}") from exc
        return True

    def bucket_locked(self) -> bool:
        """Whether the bucket has object lock (asked once, or again after RECHECK_SECONDS
        while it has none)."""
        now = time.monotonic()
        if not self._locked and (
            self._checked_at is None or now - self._checked_at >= RECHECK_SECONDS
        ):
            self._checked_at = now
            state = self.bucket_lock()
            self._locked = state.object_lock
            if state.mode == COMPLIANCE and state.days is not None:
                self._days = max(self.lock_days, state.days)
        return self._locked

    # The bucket

    def bucket_lock(self) -> BucketLock:
        """Versioning and the object lock configuration, read from the store."""
        try:
            versioning = self._client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except ClientError as exc:
            if _code(exc) in _MISSING_BUCKET:
                return BucketLock(exists=False)
            return BucketLock(error=self._reading_failed(exc))
        except BotoCoreError as exc:
            return BucketLock(error=self._reading_failed(exc))
        try:
            answer = self._client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) in _NO_LOCK:
                return BucketLock(versioning=versioning)
            return BucketLock(versioning=versioning, error=self._reading_failed(exc))
        except BotoCoreError as exc:
            return BucketLock(versioning=versioning, error=self._reading_failed(exc))
        config = answer.get("ObjectLockConfiguration") or {}
        retention = (config.get("Rule") or {}).get("DefaultRetention") or {}
        days = retention.get("Days")
        if days is None and retention.get("Years") is not None:
            days = int(retention["Years"]) * 365
        return BucketLock(
            versioning=versioning,
            object_lock=config.get("ObjectLockEnabled") == "Enabled",
            mode=retention.get("Mode"),
            days=None if days is None else int(days),
        )

    def init_bucket(self) -> list[str]:
        """Make the bucket locked, or complete it; what was done, in words. StorageFailure if
        the bucket cannot be made a locked target (the store refused, or the credentials)."""
        done: list[str] = []
        state = self.bucket_lock()
        if state.error is not None:
            raise StorageFailure(state.error)
        try:
            if not state.exists:
                options = {}
                if self.settings.region != "us-east-1":  # AWS wants it named elsewhere
                    options["CreateBucketConfiguration"] = {
                        "LocationConstraint": self.settings.region
                    }
                self._client.create_bucket(
                    Bucket=self.bucket, ObjectLockEnabledForBucket=True, **options
                )
                done.append(f"made bucket {self.bucket} with object lock (versioning on)")
            else:
                if self._client.list_objects_v2(Bucket=self.bucket, MaxKeys=1).get("KeyCount"):
                    done.append(
                        f"bucket {self.bucket} exists and is not empty: objects already in it "
                        "keep the lock they had (none, if it had no lock)"
                    )
                if state.versioning != "Enabled":
                    self._client.put_bucket_versioning(
                        Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
                    )
                    done.append(f"turned versioning on for bucket {self.bucket}")
            done += self._deny_version_deletes()
            if state.mode != COMPLIANCE or (state.days or 0) < self.lock_days:
                self._client.put_object_lock_configuration(
                    Bucket=self.bucket,
                    ObjectLockConfiguration={
                        "ObjectLockEnabled": "Enabled",
                        "Rule": {"DefaultRetention": {"Mode": COMPLIANCE, "Days": self.lock_days}},
                    },
                )
                done.append(f"default retention: COMPLIANCE, {self.lock_days} day(s)")
        except (ClientError, BotoCoreError) as exc:
            raise self._setup_failed(exc) from exc
        problems = self.bucket_lock().problems(self.lock_days)
        if problems:
            raise StorageFailure(f"bucket {self.bucket} is still not locked: {'; '.join(problems)}")
        return done

    def _deny_version_deletes(self) -> list[str]:
        """A bucket policy that denies everyone ``s3:DeleteObjectVersion``: once a version's lock
        has ended, credentials that may write (SeaweedFS's ``Write`` action) could otherwise
        delete it. A bucket with a policy of its own is left alone (said so)."""
        try:
            current = self._client.get_bucket_policy(Bucket=self.bucket).get("Policy", "")
        except ClientError as exc:
            if _code(exc) not in {"NoSuchBucketPolicy", "NoSuchPolicy"}:
                raise
        else:
            if KEEP_VERSIONS_SID in current:
                return []
            return [
                f"bucket {self.bucket} has a policy of its own (not changed): add a statement "
                "denying s3:DeleteObjectVersion to everyone (docs/resilience.md)"
            ]
        statement = {
            "Sid": KEEP_VERSIONS_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteObjectVersion",
            "Resource": f"arn:aws:s3:::{self.bucket}/*",
        }
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        self._client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))
        return [
            f"bucket policy: nobody may delete an object version of {self.bucket}, even after "
            "its lock ends (the owner removes the policy to prune or to undelete)"
        ]

    def _reading_failed(self, exc: Exception) -> str:
        if isinstance(exc, ClientError) and _code(exc) in _DENIED:
            return (
                f"{self.where} denied reading the bucket's lock (the backup's credentials need "
                "s3:GetBucketVersioning and s3:GetBucketObjectLockConfiguration)"
            )
        return self._translate_boto(exc, "reading the bucket's lock").detail

    def _setup_failed(self, exc: Exception) -> PolarisError:
        if isinstance(exc, ClientError) and _code(exc) in _DENIED:
            return StorageFailure(
                f"{self.where} denied setting up bucket {self.bucket}: run init-target with "
                "credentials that may create buckets and may set up object lock (the owner's, "
                "not the backup's)"
            )
        if isinstance(exc, ClientError) and _code(exc) == "InvalidBucketState":
            return StorageFailure(
                f"{self.where} would not turn object lock on for the existing bucket "
                f"{self.bucket}: name a new bucket in backup.target and run init-target again"
            )
        return self._translate_boto(exc, f"setting up bucket {self.bucket}")


def locked_backend(target: BackupTarget, part: str = "") -> LockedS3Backend:
    """The S3 target's writer for ``part`` (a key prefix under the target's own)."""
    assert target.s3 is not None
    prefix = "/".join(p for p in (target.s3.prefix, part) if p)
    return LockedS3Backend(
        target.s3.model_copy(update={"prefix": prefix}), lock_days=target.lock_days
    )


def init_target(target: BackupTarget) -> list[str]:
    """Make the target ready (see the module's docstring); what was done, in words."""
    if target.directory is None:
        return locked_backend(target).init_bucket()
    target.directory.mkdir(parents=True, exist_ok=True)
    return [
        f"{target.directory} is ready; a directory has no object lock: make it a mount the "
        "instance cannot rewrite (docs/resilience.md)"
    ]


def lock_status(target: BackupTarget) -> LockStatus:
    """The S3 target's lock (:meth:`BackupTarget.lock_status` is the way in)."""
    problems = locked_backend(target).bucket_lock().problems(target.lock_days)
    if problems:
        return LockStatus(False, "; ".join(problems) + " (polaris backup init-target)")
    return LockStatus(
        True,
        f"versioning on, object lock COMPLIANCE; each backup object locked {target.lock_days} "
        "day(s) from its write",
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
