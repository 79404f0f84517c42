"""``polaris backup``: run the continuous backup, see how far behind it is, drill a restore,
confirm the master key's escrow, set a PostgreSQL server up for pgBackRest."""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType

import typer

from polaris import clock
from polaris.audit import service as audit
from polaris.backup import pgbackrest, pgbackups, pgrestore, runner
from polaris.backup.drills import Drill, confirm_escrow, record_drill
from polaris.backup.pgrestore import PgRestoreRequest
from polaris.backup.restore import sanitized_config
from polaris.backup.state import state_dir
from polaris.backup.status import BackupReport, backup_report
from polaris.backup.target import backup_target
from polaris.cli.context import (
    DataDirOption,
    cli_context,
    console,
    errors,
    instance_for,
    require_instance,
    settings_for,
    unit_of_work,
)
from polaris.cli.restore_cmds import restore_and_check
from polaris.errors import PolarisError

backup_app = typer.Typer(no_args_is_help=True)


@backup_app.command("run")
def run(data_dir: Path | None = DataDirOption) -> None:
    """Back up continuously to backup.target until stopped with Ctrl-C or SIGTERM: Litestream
    ships the SQLite WAL within a second (on PostgreSQL the server archives its WAL to
    pgBackRest, and this takes the base backups when due: see backup pg-setup), and new blob
    objects are copied every few seconds (create-only: nothing at the target is ever replaced
    or deleted). Needs no master key."""
    from polaris.web import logs

    settings = settings_for(data_dir)
    require_instance(settings)
    logs.configure(settings.logs, directory=settings.resolved_log_path)
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        console.print("stopping: Litestream flushes (or pgBackRest stops), the blob pass ends")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"backing up to {settings.backup.target}", highlight=False)
    try:
        lock = backup_target(settings).lock_status()
        if lock is not None:
            mark = "ok" if lock.ok else "[bold red]NOT PROTECTED[/]"
            console.print(f"target lock: {mark}: {lock.detail}", highlight=False)
        runner.run(settings, stop=stopping)
    except PolarisError as error:
        console.print(f"[bold red]error[/] ({error.code}): {error.detail}", highlight=False)
        raise typer.Exit(1) from error


@backup_app.command("init-target")
def init_target_command(data_dir: Path | None = DataDirOption) -> None:
    """Make backup.target ready: an S3 bucket is made with object lock (versioning on) and a
    default retention of COMPLIANCE for backup.lock_days, or an existing one is completed and
    checked; a directory is made. Run it once, with credentials that may create buckets
    (POLARIS_BACKUP__ACCESS_KEY_ID / POLARIS_BACKUP__SECRET_ACCESS_KEY for this command only).
    Exit status 1 if the target cannot be made a locked one."""
    from polaris.backup.objectlock import init_target  # boto3 only for this command

    settings = settings_for(data_dir)
    require_instance(settings)
    try:
        target = backup_target(settings)
        done = init_target(target)
    except PolarisError as error:
        errors.print(f"[bold red]error[/] ({error.code}): {error.detail}", highlight=False)
        raise typer.Exit(1) from error
    for line in done or [f"{target.where} was ready already"]:
        console.print(line, highlight=False, markup=False)
    lock = target.lock_status()
    if lock is not None:
        console.print(f"target lock: ok: {lock.detail}", highlight=False, markup=False)


@backup_app.command("status")
def status(
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of lines."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Each part's lag (the age of the oldest change that may not be at the target yet; the
    target is at most backup.max_lag_seconds). Exit status 1 unless every part is within it."""
    settings = settings_for(data_dir)
    require_instance(settings)
    now = clock.utcnow()
    report = backup_report(settings, now=now)
    if as_json:
        console.print_json(json.dumps(_as_json(report, now), ensure_ascii=False))
    elif not report.configured:
        console.print("backups: not configured (set backup.target; docs/resilience.md)")
    else:
        running = (
            f"running (pid {report.running_pid})"
            if report.running_pid
            else "[bold red]not running[/] (start polaris backup run)"
        )
        console.print(f"target: {report.target}; polaris backup run: {running}", highlight=False)
        for part in report.parts:
            if not part.timed:
                mark = "[green]ok[/]" if part.ok else "[bold red]FAILING[/]"
                console.print(f"{part.name}: {mark}: {part.detail}", highlight=False)
                continue
            mark = "[green]ok[/]" if part.ok else "[bold red]LAGGING[/]"
            console.print(
                f"{part.name}: {mark}, lag {_seconds(part.lag)} (target at most "
                f"{_seconds(report.max_lag)}): {part.detail}",
                highlight=False,
            )
        for line in _drill_and_escrow_lines(report, now):
            console.print(line, highlight=False)
    if not report.complete:
        raise typer.Exit(1)


def _drill_and_escrow_lines(report: BackupReport, now: dt.datetime) -> list[str]:
    drill = report.last_drill
    if drill is None:
        drilled = "last restore drill: never (polaris backup drill)"
    else:
        drilled = (
            f"last restore drill: {'ok' if drill.ok else '[bold red]FAILED[/]'} "
            f"{_seconds(now - drill.at)} ago, RPO {_seconds_of(drill.rpo_seconds)}, "
            f"RTO {drill.rto_seconds:.1f} s, {drill.files_sampled} file(s) read back"
        )
    escrowed = (
        "[bold red]incomplete: escrow not confirmed[/] (keep an offline copy of the keys, then "
        "polaris backup confirm-escrow --by NAME)"
        if report.escrow is None
        else f"key escrow: confirmed by {report.escrow.by} at "
        f"{report.escrow.at.isoformat(timespec='seconds')}"
    )
    return [drilled, escrowed]


def _seconds_of(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f} s"


@backup_app.command("drill")
def drill(
    sample: int = typer.Option(20, "--sample", min=1, help="How many files to read back."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Restore the newest backup into a scratch directory (removed afterwards; on PostgreSQL a
    scratch cluster beside pgbackrest.conf, started on a free port and stopped), verify it, read
    a sample of files back, and record the outcome with RPO and RTO (DATA_DIR/backup/drills.json,
    shown by backup status and polaris doctor). Exit status 1 if the drill failed."""
    settings = settings_for(data_dir)
    require_instance(settings)
    if not settings.backup.target:
        errors.print("[bold red]error:[/] no backup to drill (set backup.target)")
        raise typer.Exit(1)
    now = clock.utcnow()
    state_dir(settings).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="drill-", dir=state_dir(settings)))
    cluster = pgbackrest.cluster_of(settings)
    postgres = None
    if cluster is not None:
        # Beside pgbackrest.conf: a place the server's OS user can reach.
        pg_scratch = Path(tempfile.mkdtemp(prefix="drill-", dir=cluster.config_file.parent))
        pgbackrest.give_to(pg_scratch, cluster.os_user)
        postgres = PgRestoreRequest(
            data_dir=pg_scratch / "pg",
            port=pgrestore.free_port(),
            stanza=cluster.stanza,
            os_user=cluster.os_user,
            database_url=settings.resolved_database_url,
        )
    try:
        restored = restore_and_check(
            settings.backup,
            directory=scratch / "instance",
            config=sanitized_config(settings),
            master_key_file=settings.resolved_master_key_file,
            audit_key_file=settings.resolved_audit_key_file,
            keep_backup=False,  # nobody backs the scratch copy up over the real backup
            sample=sample,
            postgres=postgres,
        )
    except PolarisError as error:
        outcome = Drill(now, False, None, 0.0, 0, f"{error.code}: {error.detail}")
        lines = [outcome.detail]
    else:
        check = restored.check
        newest = check.newest_change_at
        rpo = None if newest is None else max(0.0, (now - newest).total_seconds())
        lines = check.lines()
        outcome = Drill(now, check.ok, rpo, restored.seconds, check.files_sampled, "; ".join(lines))
    finally:
        if postgres is not None:
            pgrestore.stop_if_running(postgres.data_dir, postgres.os_user)
            shutil.rmtree(postgres.data_dir.parent, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    record_drill(state_dir(settings), outcome)
    for line in lines:
        console.print(line, highlight=False, markup=False)
    console.print(
        f"drill {'ok' if outcome.ok else 'FAILED'}: RPO {_seconds_of(outcome.rpo_seconds)}, "
        f"RTO {outcome.rto_seconds:.1f} s",
        highlight=False,
    )
    if not outcome.ok:
        raise typer.Exit(1)


@backup_app.command("pg-setup")
def pg_setup(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only say what the server needs; change no setting."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """PostgreSQL: write pgbackrest.conf, set the server's WAL archiving (ALTER SYSTEM, when the
    database role is a superuser; else it prints the lines for postgresql.conf), create the
    stanza and run pgbackrest check. Exit status 1 while something is missing (archive_mode
    needs a restart of PostgreSQL: restart it, then run this again)."""
    settings = settings_for(data_dir)
    require_instance(settings)
    try:
        report = pgbackups.setup(settings, backup_target(settings), apply=not dry_run)
    except PolarisError as error:
        errors.print(f"[bold red]error[/] ({error.code}): {error.detail}", highlight=False)
        raise typer.Exit(1) from error
    say = functools.partial(console.print, highlight=False, markup=False)
    say(f"pgBackRest configuration: {report.config_file}")
    for problem in report.problems:
        say(f"was: {problem}")
    if report.applied:
        say(f"set with ALTER SYSTEM and reloaded: {', '.join(report.applied)}")
    elif report.not_applied and report.wanted:
        say(f"not set ({report.not_applied}); put these in postgresql.conf:")
        for name, value in report.wanted.items():
            say(f"  {name} = '{value}'")
    for problem in report.remaining:
        say(f"still wrong: {problem}")
    if report.remaining:
        say("then restart PostgreSQL if a setting says so, and run polaris backup pg-setup again")
        raise typer.Exit(1)
    say("pgbackrest check: ok (WAL reaches the repository); polaris backup run takes the backups")


@backup_app.command("confirm-escrow")
def confirm_escrow_command(
    by: str = typer.Option(..., "--by", help="Who checked that the offline copy exists."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Record (audited: backup.escrow_confirmed) that an offline escrow copy of the master key
    and the audit signing key exists; backup status is incomplete until then."""
    name = by.strip()
    if not name:
        errors.print("[bold red]error:[/] --by names who confirmed it")
        raise typer.Exit(1)
    now = clock.utcnow()
    with instance_for(data_dir) as instance:
        with unit_of_work(instance) as session:
            audit.append(
                session=session,
                context=cli_context(),
                action="backup.escrow_confirmed",
                object_type="backup",
                object_id=0,
                detail={"by": name[:200]},
            )
        confirm_escrow(state_dir(instance.settings), by=name[:200], at=now)
    console.print(f"key escrow confirmed by {name}", highlight=False, markup=False)


def _seconds(delta: dt.timedelta | None) -> str:
    return "unknown" if delta is None else f"{delta.total_seconds():.0f} s"


def _as_json(report: BackupReport, now: dt.datetime) -> dict[str, object]:
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "configured": report.configured,
        "target": report.target,
        "running_pid": report.running_pid,
        "ok": report.ok,
        "max_lag_seconds": report.max_lag.total_seconds(),
        "escrow_confirmed": report.escrow is not None,
        "complete": report.complete,
        "last_drill": None if report.last_drill is None else report.last_drill.as_json(),
        "parts": [
            {
                "name": part.name,
                "ok": part.ok,
                "covered_at": None if part.covered_at is None else part.covered_at.isoformat(),
                "lag_seconds": None if part.lag is None else part.lag.total_seconds(),
                "detail": part.detail,
            }
            for part in report.parts
        ],
    }
