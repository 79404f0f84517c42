"""``polaris guard``: the ransomware guard's runbook — see who is frozen and why, restore what a
frozen account changed since a time, unfreeze it, mark canary files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from polaris.cli.context import (
    DataDirOption,
    cli_context,
    console,
    fail,
    instance_for,
    unit_of_work,
)
from polaris.resilience import service as guard

guard_app = typer.Typer(no_args_is_help=True)


def parse_time(text: str) -> dt.datetime:
    """ISO 8601; a time without an offset is UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"not a time: {text!r} (use ISO 8601, e.g. 2026-12-06T09:30 or ...T15:00+05:30)")
        raise  # unreachable: fail exits
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@guard_app.command("status")
def status(data_dir: Path | None = DataDirOption) -> None:
    """List the frozen accounts with the guard's latest evidence."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        accounts = guard.frozen_accounts(session)
    if not accounts:
        console.print("no account is frozen")
    for account in accounts:
        console.print(
            f"{account.username}: frozen {account.frozen_at.isoformat(timespec='seconds')}, "
            f"score {account.score}",
            highlight=False,
        )
        for item in account.evidence[:10]:
            console.print(
                f"  {item['at']} {item['event']} {item['subject_id']}: "
                f"{', '.join(map(str, item['findings']))} (+{item['points']})",  # type: ignore[call-overload]
                highlight=False,
            )


@guard_app.command("restore")
def restore(
    user: str = typer.Option(..., "--user", help="The account whose changes are undone."),
    since: str = typer.Option(..., "--since", help="When the attack began (ISO 8601; UTC)."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Give every file USER changed since TIME its earlier content back, as new versions."""
    when = parse_time(since)
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        report = guard.restore_since(
            session=session,
            context=cli_context(),
            blobs=instance.blobs,
            username=user,
            since=when,
        )
    console.print(
        f"{report.restored} files restored, {report.unchanged} already as they were, "
        f"{report.created_since} created since (left alone), {len(report.failed)} failed",
        highlight=False,
    )
    places = report.places
    console.print(
        f"{places.untrashed} brought back from the trash, {places.renamed} renamed back, "
        f"{places.moved} moved back, {len(places.failed)} could not be put back",
        highlight=False,
    )
    for node_id, code in [*places.failed, *report.failed]:
        console.print(f"  node {node_id}: {code}", highlight=False)


@guard_app.command("unfreeze")
def unfreeze(
    user: str = typer.Option(..., "--user", help="The account that may write again."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Let a frozen account write again (its window starts afresh)."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        changed = guard.unfreeze(session=session, actor=None, context=cli_context(), username=user)
    console.print(f"{user} unfrozen" if changed else f"{user} was not frozen", highlight=False)


@guard_app.command("canary")
def canary(
    node: int = typer.Option(..., "--node", help="The id of the file to mark."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Mark a file as a canary: whoever renames, overwrites or trashes it is frozen at once."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        added = guard.mark_canary(session=session, context=cli_context(), node_id=node)
    console.print(f"file {node} is {'now' if added else 'already'} a canary", highlight=False)
