"""``polaris doctor``: the security self-audit, as a table or JSON; exit status 1 on a critical
finding (a cron job or monitoring system can alert on it)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from polaris import clock
from polaris.backup.status import backup_report
from polaris.cli.context import DataDirOption, console, require_instance, settings_for
from polaris.db.engine import make_engine, make_read_session_factory
from polaris.doctor import backups, runner
from polaris.doctor.findings import DoctorContext, Severity

_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.OK: "green"}


def doctor(
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Audit this instance's security: key files, cookies and TLS, MFA per role,
    administrators, handed-over passwords, old API tokens, backups, verify runs, disk space
    and the clock. Reads only; needs the settings and the database, not the keys."""
    settings = settings_for(data_dir)
    require_instance(settings)
    # Plugged in for this run only: the source is process-wide state.
    backups.use_source(_backup_status if settings.backup.target else None)
    engine = make_engine(settings.resolved_database_url)
    try:
        now = clock.utcnow()
        findings = runner.run(settings, make_read_session_factory(engine), now=now)
    finally:
        backups.use_source(None)
        engine.dispose()
    critical = runner.has_critical(findings)
    if as_json:
        document = {
            "instance": settings.instance_name,
            "generated_at": now.isoformat(timespec="seconds"),
            "ok": not critical,
            "findings": [finding.as_json() for finding in findings],
        }
        console.print_json(json.dumps(document, ensure_ascii=False))
    else:
        table = Table(
            title=f"{settings.instance_name}: security self-audit, {now:%Y-%m-%d %H:%M} UTC"
        )
        for column in ("severity", "id", "checked", "value", "what to do"):
            table.add_column(column, overflow="fold")
        for finding in findings:
            table.add_row(
                f"[{_STYLE[finding.severity]}]{finding.severity.value}[/]",
                finding.id,
                finding.check,
                finding.value,
                finding.action,
                end_section=False,
            )
        console.print(table)
        counts = {s: sum(f.severity is s for f in findings) for s in Severity}
        console.print(
            f"{counts[Severity.CRITICAL]} critical, {counts[Severity.WARNING]} warning(s), "
            f"{counts[Severity.OK]} ok"
        )
    if critical:
        raise typer.Exit(1)


def _backup_status(ctx: DoctorContext) -> backups.BackupStatus:
    """The continuous backup's state (``polaris.backup``): the time up to which every part is
    at the target, and the last restore drill (``polaris backup drill``)."""
    report = backup_report(ctx.settings, now=ctx.now)
    drill = report.last_drill
    return backups.BackupStatus(
        last_backup_at=report.covered_at,
        last_drill_at=None if drill is None else drill.at,
        last_drill_ok=None if drill is None else drill.ok,
        max_lag=report.max_lag,
    )
