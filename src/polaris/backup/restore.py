"""Restore: a new instance, in an empty directory, from the backup target.

What the target holds (``polaris.backup.target``) is enough for everything but the keys:

* the database: ``litestream restore`` from ``db/`` (to a point in time, or the newest state);
  on PostgreSQL ``pgbackrest restore`` from ``pg/`` into an empty data directory, and the
  restored server started (``polaris.backup.pgrestore``);
* the blob store: every object of ``blobs/`` copied, create-only, into ``DIR/blobs`` (the objects
  are sealed: nothing is decrypted on the way);
* the settings: ``backup run`` leaves a copy of ``polaris.toml`` in ``config/`` (without secrets),
  and the restored instance gets the same settings with its own paths (the database, the blob
  store, the logs and the search index under ``DIR``).

The master key and the audit signing key are not in the backup, on purpose (a stolen backup is
sealed bytes): the operator brings the escrow copies, which are copied into ``DIR`` (mode 0600).
Checking the restored instance (``storage verify``, ``audit verify``) needs the domains and lives
above this package (``polaris.admin.restore_check``).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polaris.backup.litestream import find_litestream, litestream_environment
from polaris.backup.pgrestore import (
    PgRestoreRequest,
    RestoredCluster,
    check_request,
    restore_cluster,
)
from polaris.backup.target import BackupTarget
from polaris.config import CONFIG_FILE_NAME, Settings, load_settings
from polaris.errors import StorageFailure, ValidationFailed
from polaris.storage.backend import Backend
from polaris.storage.local import LocalBackend

CONFIG = "config"
DATABASE_FILE = "polaris.db"
MASTER_KEY_FILE = "master.key"
AUDIT_KEY_FILE = "audit-signing.key"
#: Top-level settings that are secrets or name the old instance's own files.
_DROPPED = ("data_dir", "database_url", "master_key_file", "audit_key_file", "master_key",
            "audit_key")  # fmt: skip
_CONFIG_NAME = re.compile(r"config/polaris-(\d{8}t\d{6}z)-([0-9a-f]{16})\.toml")


class RestoreRefused(ValidationFailed):
    """The restore cannot start (non-empty directory, no key, no configuration): nothing was
    written."""


@dataclass(frozen=True)
class RestoreResult:
    settings: Settings
    #: Wall time of the restore itself (database, blobs, settings), in seconds.
    seconds: float
    objects: int
    #: The restored PostgreSQL server (None: SQLite).
    postgres: RestoredCluster | None = None


def config_backend(target: BackupTarget) -> Backend:
    """The target's ``config/`` part: a blob-store-like area, written create-only (and locked)
    too."""
    return target.backend()


def sanitized_config(settings: Settings) -> dict[str, Any]:
    """The instance's ``polaris.toml`` without its secrets (keys, credentials)."""
    path = settings.data_dir / CONFIG_FILE_NAME
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        config = {}
    for key in ("master_key", "audit_key"):
        config.pop(key, None)
    config.get("backup", {}).pop("secret_access_key", None)
    (config.get("storage", {}).get("s3") or {}).pop("secret_access_key", None)
    return config


def save_config(settings: Settings, target: BackupTarget, *, now: dt.datetime) -> str | None:
    """Leave the settings at the target (``config/polaris-TIME-HASH.toml``, create-only); a copy
    with the same content is not written again. The name written, or None."""
    text = render_toml(sanitized_config(settings))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    backend = config_backend(target)
    if any(name.endswith(f"-{digest}.toml") for name in backend.list(f"{CONFIG}/")):
        return None
    name = f"{CONFIG}/polaris-{now.astimezone(dt.UTC):%Y%m%dt%H%M%Sz}-{digest}.toml"
    backend.put(name, text.encode())
    return name


def backed_up_config(target: BackupTarget) -> dict[str, Any]:
    """The newest settings left at the target; RestoreRefused when there are none."""
    backend = config_backend(target)
    names = sorted(name for name in backend.list(f"{CONFIG}/") if _CONFIG_NAME.fullmatch(name))
    if not names:
        raise RestoreRefused(
            f"no settings in the backup at {target.where} (config/): polaris backup run leaves "
            "them there; pass the old polaris.toml with --config"
        )
    return tomllib.loads(backend.get(names[-1]).decode("utf-8"))


def restored_config(source: dict[str, Any], *, keep_backup: bool) -> dict[str, Any]:
    """The same settings with the restored instance's paths: its database, blob store (local,
    the copy), logs and search index under its data directory, its keys beside them."""
    config = copy.deepcopy(source)
    for key in _DROPPED:
        config.pop(key, None)
    storage = {
        k: v for k, v in config.get("storage", {}).items() if k not in ("backend", "path", "s3")
    }
    config["storage"] = storage
    for section in ("logs", "search"):
        config.get(section, {}).pop("path", None)
    # The old server's files: the restored instance's are set up anew (backup pg-setup).
    for key in ("pg_data_dir", "pg_socket_dir", "pg_config_file"):
        config.get("backup", {}).pop(key, None)
    if not keep_backup:
        config.pop("backup", None)
    return {key: value for key, value in config.items() if value != {}}


def restore(
    target: BackupTarget,
    *,
    directory: Path,
    config: dict[str, Any],
    master_key_file: Path | None,
    audit_key_file: Path | None,
    to: dt.datetime | None = None,
    keep_backup: bool = True,
    postgres: PgRestoreRequest | None = None,
) -> RestoreResult:
    """Restore into ``directory`` (missing or empty), the database into ``postgres.data_dir``
    on PostgreSQL. Refuses before writing anything."""
    started = time.monotonic()
    directory = directory.absolute()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise RestoreRefused(f"{directory} is not empty: restore only into an empty directory")
    keys = {MASTER_KEY_FILE: master_key_file, AUDIT_KEY_FILE: audit_key_file}
    for name, given in keys.items():
        if given is None:
            option = "--master-key-file" if name == MASTER_KEY_FILE else "--audit-key-file"
            raise RestoreRefused(
                f"the backup holds no keys: pass the escrow copy of {name} with {option}"
            )
        if not given.is_file():
            raise RestoreRefused(f"{given}: no such key file")
    if postgres is not None:
        check_request(postgres)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for name, given in keys.items():
        assert given is not None
        shutil.copyfile(given, directory / name)
        os.chmod(directory / name, 0o600)
    cluster = None
    if postgres is None:
        restore_database(target, directory / DATABASE_FILE, to=to)
    else:
        cluster = restore_cluster(target, postgres, to=to)
    objects = copy_blobs(target.blob_backend(), LocalBackend(directory / "blobs"))
    settings = restored_config(config, keep_backup=keep_backup)
    if cluster is not None:
        settings["database_url"] = cluster.database_url
    (directory / CONFIG_FILE_NAME).write_text(render_toml(settings), encoding="utf-8")
    seconds = time.monotonic() - started
    return RestoreResult(load_settings(directory), seconds, objects, cluster)


def restore_database(target: BackupTarget, output: Path, *, to: dt.datetime | None) -> None:
    """``litestream restore`` of the target's replica into ``output``."""
    config = output.with_name(".litestream-restore.yml")
    document = {"dbs": [{"path": str(output), "replica": target.litestream_replica()}]}
    config.write_text(json.dumps(document), encoding="utf-8")
    command = [find_litestream(), "restore", "-config", str(config), "-o", str(output)]
    if to is not None:
        command += ["-timestamp", to.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    try:
        result = subprocess.run(  # noqa: S603 (our binary, paths we wrote)
            [*command, str(output)],
            env=litestream_environment(target),
            capture_output=True,
            timeout=3600,
            check=False,
        )
    finally:
        config.unlink(missing_ok=True)
    if result.returncode != 0 or not output.is_file():
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise StorageFailure(
            f"litestream restore from {target.where} failed: "
            + (lines[-1] if lines else f"exit status {result.returncode}")
        )


def copy_blobs(source: Backend, destination: Backend) -> int:
    """Every object of the backup's blob store, as it is (create-only)."""
    copied = 0
    for name in source.list():
        destination.put(name, source.get(name))
        copied += 1
    return copied


def render_toml(config: dict[str, Any]) -> str:
    """TOML for settings (strings, numbers, booleans, lists of those, nested tables): the
    standard library reads TOML but does not write it."""
    lines: list[str] = []
    _table(config, [], lines)
    return "\n".join(lines).strip() + "\n"


def _table(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if path and scalars:
        lines.append(f"\n[{'.'.join(path)}]")
    for key, value in scalars.items():
        lines.append(f"{key} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            _table(value, [*path, key], lines)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are valid in a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    raise ValueError(f"cannot write {type(value).__name__} as a setting")
