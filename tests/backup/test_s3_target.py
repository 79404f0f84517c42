"""The backup on an S3 target with object lock, against a real SeaweedFS and a real Litestream.

What can fail: a bucket without lock reported as fine; a backup object written without its own
lock; a version someone can delete or a lock someone can shorten; Litestream breaking on the lock
when its retention deletes old files; a restore from the bucket that does not bring the instance
back byte for byte. The backup runs with the fixture's least-rights identity (no Admin); the
attacks use the Admin identity, which is stronger than what a stolen server holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from polaris.backup import runner
from polaris.backup.litestream import sqlite_path
from polaris.backup.state import state_dir
from polaris.config import load_settings
from tests.backup.test_restore import digests, escrow_keys
from tests.backup.test_runner import litestream_processes, report_of
from tests.cli.test_cli import cmd, invoke
from tests.ingest.test_bulk import image
from tests.live_server import wait_for
from tests.support.seaweedfs import (
    ACCESS_KEY,
    BACKUP_ACCESS_KEY,
    BACKUP_SECRET_KEY,
    SECRET_KEY,
    SeaweedFS,
)

ADMIN_ENV = {
    "POLARIS_BACKUP__ACCESS_KEY_ID": ACCESS_KEY,
    "POLARIS_BACKUP__SECRET_ACCESS_KEY": SECRET_KEY,
}
BACKUP_ENV = {
    "POLARIS_BACKUP__ACCESS_KEY_ID": BACKUP_ACCESS_KEY,
    "POLARIS_BACKUP__SECRET_ACCESS_KEY": BACKUP_SECRET_KEY,
}


def s3_url(seaweedfs: SeaweedFS, bucket: str) -> str:
    return f"s3://{bucket}/site-a?endpoint={seaweedfs.endpoint}&allow_http=true"


def configure(directory: Path, url: str, **extra: object) -> None:
    """``[backup]`` to ``url`` with the backup identity's credentials and a one-day lock."""
    lines = [
        "\n[backup]",
        f'target = "{url}"',
        f'access_key_id = "{BACKUP_ACCESS_KEY}"',
        f'secret_access_key = "{BACKUP_SECRET_KEY}"',
        "lock_days = 1",
        "blob_interval_seconds = 0.2",
        *(f"{key} = {value!r}" for key, value in extra.items()),
    ]
    with (directory / "polaris.toml").open("a", encoding="utf-8") as config:
        config.write("\n".join(lines) + "\n")


def error_code(call: Any, **arguments: Any) -> str:
    """The S3 error code ``call(**arguments)`` fails with."""
    with pytest.raises(ClientError) as raised:
        call(**arguments)
    return str(raised.value.response["Error"]["Code"])


def test_status_fails_until_init_target_locks_the_bucket(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    directory = tmp_path / "instance"
    assert invoke("init", str(directory)).exit_code == 0
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    seaweedfs.client.create_bucket(Bucket=bucket)  # an ordinary bucket: no versioning, no lock
    configure(directory, s3_url(seaweedfs, bucket))

    status = cmd(directory, "backup", "status")
    output = " ".join(status.output.split())
    assert status.exit_code == 1
    assert "target lock: FAILING: versioning is off" in output
    assert "no object lock" in output and "polaris backup init-target" in output

    # The backup's own credentials may not set the lock up: that takes the owner, once.
    refused = cmd(directory, "backup", "init-target")
    assert refused.exit_code == 1
    assert "may set up object lock" in " ".join(refused.output.split())
    done = invoke("backup", "init-target", "--data-dir", str(directory), env=ADMIN_ENV)
    assert done.exit_code == 0, done.output
    output = " ".join(done.output.split())
    # (SeaweedFS's Write action may turn versioning on: the refused attempt already did.)
    assert "default retention: COMPLIANCE, 1 day(s)" in output
    assert seaweedfs.client.get_object_lock_configuration(Bucket=bucket)[
        "ObjectLockConfiguration"
    ] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
    }
    again = invoke("backup", "init-target", "--data-dir", str(directory), env=ADMIN_ENV)
    assert again.exit_code == 0 and "was ready already" in " ".join(again.output.split())
    status = cmd(directory, "backup", "status")
    assert "target lock: ok: versioning on, object lock COMPLIANCE" in " ".join(
        status.output.split()
    )

    # Someone with the owner's rights drops the default retention: status says so, and what
    # the backup writes is locked all the same (each PUT names its own retention).
    seaweedfs.client.put_object_lock_configuration(
        Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    status = cmd(directory, "backup", "status")
    assert "target lock: FAILING: no default retention" in " ".join(status.output.split())
    report = runner.blob_replicator(load_settings(directory)).run_pass()
    assert report.copied > 0
    (key, *_) = current_keys(seaweedfs.client, bucket, "site-a/blobs/")
    head = seaweedfs.client.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)


def table_rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but Litestream's own, in rowid order."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                "'\\_litestream%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            )
        ]
        return {
            table: list(connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid'))  # noqa: S608
            for table in tables
        }


def object_digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def current_keys(client: Any, bucket: str, prefix: str) -> list[str]:
    """The keys a listing shows (not hidden behind a delete marker)."""
    found: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [item["Key"] for item in page.get("Contents", [])]
    return found


def versions(client: Any, bucket: str, prefix: str) -> tuple[list[Any], list[Any]]:
    found: tuple[list[Any], list[Any]] = ([], [])
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        found[0].extend(page.get("Versions", []))
        found[1].extend(page.get("DeleteMarkers", []))
    return found


@pytest.mark.slow
def test_a_locked_bucket_survives_an_attacker_and_restores_the_instance(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    directory = tmp_path / "instance"
    assert invoke("init", str(directory), "--demo").exit_code == 0
    bucket = f"backup-{uuid.uuid4().hex[:12]}"
    url = s3_url(seaweedfs, bucket)
    # Litestream snapshots every 3 s and keeps 8 s of them, so that its retention deletes files
    # under the lock while the test runs (in production: a day and a week).
    configure(directory, url, snapshot_interval_hours=0.001, retention_days=0.0001)
    made = invoke("backup", "init-target", "--data-dir", str(directory), env=ADMIN_ENV)
    assert made.exit_code == 0, made.output
    assert f"made bucket {bucket} with object lock" in " ".join(made.output.split())
    assert "nobody may delete an object version" in " ".join(made.output.split())
    tree = tmp_path / "scans"
    image(tree / "FIR 12-1998.pdf", "PDF", frames=2)
    image(tree / "2003" / "statement.jpg", "JPEG")
    args = ["import", str(tree), "--space", "unit:DST-BPL", "--as", "clerk.bpl"]
    imported = cmd(directory, *args, "--summary", str(tmp_path / "summary.json"))
    assert imported.exit_code == 0, imported.output

    settings = load_settings(directory)
    database = sqlite_path(settings)
    assert database is not None
    admin = seaweedfs.client
    backup_client = seaweedfs.client_for(BACKUP_ACCESS_KEY, BACKUP_SECRET_KEY)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: runner.run(settings, stop=stop), daemon=True)
    thread.start()
    try:
        wait_for(lambda: report_of(settings).ok, "both parts caught up on the locked bucket")
        churn(database, lambda: bool(versions(admin, bucket, "site-a/db/")[1]))
        wait_for(lambda: report_of(settings).ok, "the churn replicated")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert litestream_processes(state_dir(settings) / "litestream.yml") == []
    # Litestream's retention met the lock: its deletes became delete markers, not errors.
    litestream_log = (state_dir(settings) / "litestream.log").read_text(encoding="utf-8")
    assert "level=ERROR" not in litestream_log

    rows = table_rows(database)
    files = digests(directory)
    blobs = object_digests(directory / "blobs")
    objects, _ = versions(admin, bucket, "site-a/")
    keys = {item["Key"] for item in objects}
    assert {f"site-a/blobs/{name}" for name in blobs} <= keys
    chunk = next(key for key in sorted(keys) if key.startswith("site-a/blobs/data/chunks/"))
    head = backup_client.head_object(Bucket=bucket, Key=chunk)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)

    # Whole seconds: the store's LastModified has no fraction (removing one of Litestream's own
    # markers from that second would only bring back a file it no longer needs).
    attack_started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    attack(admin, backup_client, bucket, keys)
    assert versions(admin, bucket, "site-a/")[1]  # everything is hidden behind delete markers
    assert current_keys(admin, bucket, "site-a/") == []
    undelete(admin, bucket, "site-a/", since=attack_started)

    restored = tmp_path / "new-machine" / "polaris-data"
    keys_args = escrow_keys(directory, tmp_path)
    result = invoke("restore", "--target", str(restored), "--from", url, *keys_args, env=BACKUP_ENV)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "storage verify: ok" in output and "audit verify: ok" in output
    assert object_digests(restored / "blobs") == blobs
    assert table_rows(restored / "polaris.db") == rows
    assert digests(restored) == files


def churn(database: Path, done: Any) -> None:
    """Write to the database until ``done()`` (Litestream's retention has deleted something)."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS churn (id INTEGER PRIMARY KEY, x BLOB)")
        counter = iter(range(1_000_000))

        def write_and_check() -> bool:
            connection.execute("INSERT INTO churn (x) VALUES (?)", (f"{next(counter)}" * 500,))
            connection.commit()
            return bool(done())

        wait_for(write_and_check, "Litestream's retention to delete a file")


def attack(admin: Any, backup_client: Any, bucket: str, keys: set[str]) -> None:
    """What a thief of the credentials tries: delete versions, shorten locks, delete keys."""
    (version, *_), _ = versions(admin, bucket, sorted(keys)[0])
    key, version_id = version["Key"], version["VersionId"]
    locked = {"Bucket": bucket, "Key": key, "VersionId": version_id}
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    for client in (backup_client, admin):
        assert error_code(client.delete_object, **locked) == "AccessDenied"
        shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": soon}
        assert error_code(client.put_object_retention, **locked, Retention=shorter) == (
            "AccessDenied"
        )
    objects, _ = versions(admin, bucket, "site-a/")
    batch = [{"Key": item["Key"], "VersionId": item["VersionId"]} for item in objects]
    refused = admin.delete_objects(Bucket=bucket, Delete={"Objects": batch[:1000]})
    assert not refused.get("Deleted") and len(refused["Errors"]) == min(len(batch), 1000)
    for key in sorted(keys):  # a plain DELETE works, and only adds a delete marker
        assert backup_client.delete_object(Bucket=bucket, Key=key)["DeleteMarker"]
    # A delete marker has no lock; the bucket policy keeps it (and any version) all the same.
    _, (marker, *_) = versions(admin, bucket, "site-a/")
    marked = {"Bucket": bucket, "Key": marker["Key"], "VersionId": marker["VersionId"]}
    assert error_code(backup_client.delete_object, **marked) == "AccessDenied"
    assert error_code(backup_client.delete_bucket_policy, Bucket=bucket) == "AccessDenied"


def undelete(client: Any, bucket: str, prefix: str, *, since: dt.datetime) -> None:
    """The recovery, by the bucket's owner: lift the policy that keeps every version, remove
    the delete markers made since the attack began."""
    client.delete_bucket_policy(Bucket=bucket)
    _, markers = versions(client, bucket, prefix)
    for marker in markers:
        if marker["LastModified"] >= since:
            client.delete_object(Bucket=bucket, Key=marker["Key"], VersionId=marker["VersionId"])
