"""``polaris restore``: a new instance from the backup, verified (docs/resilience.md, "Backups and
restore"); the drill (``polaris backup drill``) does the same into a scratch directory."""

from __future__ import annotations

import datetime as dt
import shlex
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from polaris.admin.restore_check import RestoreCheck, check_restored
from polaris.backup.pgrestore import PgRestoreRequest
from polaris.backup.pgserver import postgres_url
from polaris.backup.restore import RestoreRefused, RestoreResult, backed_up_config, restore
from polaris.backup.target import target_of
from polaris.cli.context import DataDirOption, console, errors, settings_for
from polaris.config import BackupSettings
from polaris.errors import PolarisError
from polaris.instance import open_instance


@dataclass(frozen=True)
class Restored:
    result: RestoreResult
    check: RestoreCheck
    #: From the start of the restore to the end of the checks.
    seconds: float


def restore_and_check(
    backup: BackupSettings,
    *,
    directory: Path,
    config: dict[str, Any],
    master_key_file: Path | None,
    audit_key_file: Path | None,
    to: dt.datetime | None = None,
    keep_backup: bool = True,
    sample: int | None = None,
    postgres: PgRestoreRequest | None = None,
) -> Restored:
    started = time.monotonic()
    result = restore(
        target_of(backup),
        directory=directory,
        config=config,
        master_key_file=master_key_file,
        audit_key_file=audit_key_file,
        to=to,
        keep_backup=keep_backup,
        postgres=postgres,
    )
    instance = open_instance(result.settings)
    try:
        check = check_restored(instance, sample=sample)
    finally:
        instance.close()
    return Restored(result, check, time.monotonic() - started)


def restore_command(
    target: Path = typer.Option(
        ..., "--target", help="The new instance's data directory (missing or empty)."
    ),
    to: str | None = typer.Option(
        None, "--to", help="Point in time (ISO 8601; UTC unless it says): default the newest."
    ),
    source: str | None = typer.Option(
        None,
        "--from",
        help="The backup target (a directory or s3:// URL); default: backup.target of --data-dir.",
    ),
    master_key_file: Path | None = typer.Option(
        None, "--master-key-file", help="The escrow copy of master.key (not in the backup)."
    ),
    audit_key_file: Path | None = typer.Option(
        None, "--audit-key-file", help="The escrow copy of audit-signing.key (not in the backup)."
    ),
    config_file: Path | None = typer.Option(
        None, "--config", help="Settings to restore with (default: the copy in the backup)."
    ),
    pg_data: Path | None = typer.Option(
        None,
        "--pg-data",
        help="PostgreSQL: an empty directory for the restored cluster (its OS user must reach it).",
    ),
    pg_port: int = typer.Option(
        5432, "--pg-port", min=1, max=65535, help="PostgreSQL: the restored server's port."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Restore the backup into a new, empty directory: the database (Litestream, to --to or the
    newest state; PostgreSQL: pgBackRest into --pg-data, started on --pg-port), the blob store
    (copied), polaris.toml (the same settings, the new paths) and the escrowed keys; then
    storage verify and audit verify. Exit status 1 if either fails."""
    try:
        backup = _backup_settings(source, data_dir)
        at = _parse_time(to)
        if config_file is not None:
            config = tomllib.loads(config_file.read_text(encoding="utf-8"))
        else:
            config = backed_up_config(target_of(backup))
        postgres = postgres_request(config, pg_data, pg_port)
        restored = restore_and_check(
            backup,
            directory=target,
            config=config,
            master_key_file=master_key_file,
            audit_key_file=audit_key_file,
            to=at,
            postgres=postgres,
        )
    except PolarisError as error:
        errors.print(f"[bold red]refused[/] ({error.code}): {error.detail}", highlight=False)
        raise typer.Exit(1) from error
    result = restored.result
    console.print(
        f"restored {result.objects} blob objects and the database into {target} in "
        f"{result.seconds:.1f} s",
        highlight=False,
    )
    for line in restored.check.lines():
        console.print(line, highlight=False, markup=False)
    if not restored.check.ok:
        errors.print("the restored instance is NOT whole: do not serve it; see above")
        raise typer.Exit(1)
    if result.postgres is not None:
        stop = shlex.join(result.postgres.stop_command)
        console.print(f"PostgreSQL runs on port {pg_port}; stop it with: {stop}", markup=False)
        console.print("then polaris backup pg-setup on the new instance", markup=False)
    console.print(f"next: polaris serve --data-dir {target}", highlight=False, markup=False)


def postgres_request(
    config: dict[str, Any], pg_data: Path | None, pg_port: int
) -> PgRestoreRequest | None:
    """What a PostgreSQL restore needs (None for SQLite); refused when ``--pg-data`` does not
    suit the backup."""
    url = str(config.get("database_url") or "")
    is_postgres = bool(url) and postgres_url(url) is not None
    if not is_postgres:
        if pg_data is not None:
            raise RestoreRefused("--pg-data: the backup is of a SQLite instance")
        return None
    if pg_data is None:
        raise RestoreRefused(
            "the backup is of a PostgreSQL instance: pass --pg-data DIR (an empty directory for "
            "the restored cluster) and --pg-port PORT"
        )
    backup = config.get("backup", {})
    return PgRestoreRequest(
        data_dir=pg_data.absolute(),
        port=pg_port,
        stanza=str(backup.get("pg_stanza", "polaris")),
        os_user=backup.get("pg_os_user"),
        database_url=url,
    )


def _backup_settings(source: str | None, data_dir: Path | None) -> BackupSettings:
    settings = settings_for(data_dir)
    if source is None:
        if not settings.backup.target:
            raise RestoreRefused("no backup to restore from: pass --from (the backup target)")
        return settings.backup
    return settings.backup.model_copy(update={"target": source})


def _parse_time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RestoreRefused(f"--to {text!r}: not an ISO 8601 time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
