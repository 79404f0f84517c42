"""``polaris backup``: run the continuous backup, and see how far behind it is."""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
from pathlib import Path
from types import FrameType

import typer

from polaris import clock
from polaris.backup import runner
from polaris.backup.status import BackupReport, backup_report
from polaris.cli.context import DataDirOption, console, require_instance, settings_for
from polaris.errors import PolarisError

backup_app = typer.Typer(no_args_is_help=True)


@backup_app.command("run")
def run(data_dir: Path | None = DataDirOption) -> None:
    """Back up continuously to backup.target until stopped with Ctrl-C or SIGTERM: Litestream
    ships the SQLite WAL within a second, and new blob objects are copied every few seconds
    (create-only: nothing at the target is ever replaced or deleted). Needs no master key."""
    from polaris.web import logs

    settings = settings_for(data_dir)
    require_instance(settings)
    logs.configure(settings.logs, directory=settings.resolved_log_path)
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        console.print("stopping: Litestream flushes, the blob pass under way ends")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"backing up to {settings.backup.target}", highlight=False)
    try:
        runner.run(settings, stop=stopping)
    except PolarisError as error:
        console.print(f"[bold red]error[/] ({error.code}): {error.detail}", highlight=False)
        raise typer.Exit(1) from error


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
            mark = "[green]ok[/]" if part.ok else "[bold red]LAGGING[/]"
            console.print(
                f"{part.name}: {mark}, lag {_seconds(part.lag)} (target at most "
                f"{_seconds(report.max_lag)}): {part.detail}",
                highlight=False,
            )
    if not report.ok:
        raise typer.Exit(1)


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
