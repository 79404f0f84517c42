"""``polaris incident``: the switch that makes the whole instance read-only during an attack."""

from __future__ import annotations

from pathlib import Path

import typer

from polaris.cli.context import DataDirOption, cli_context, console, instance_for, unit_of_work
from polaris.incident import service as incident

incident_app = typer.Typer(no_args_is_help=True)


@incident_app.command("on")
def on(
    reason: str = typer.Option(..., "--reason", help="Why: shown to every user and audited."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Make the instance read-only: reads and sign-in go on, every write is refused (503
    instance_read_only) on every node within seconds, and by the CLI's writing commands."""
    with instance_for(data_dir) as instance, unit_of_work(instance, writes=False) as session:
        state = incident.turn_on(session=session, actor=None, context=cli_context(), reason=reason)
    console.print(f"incident switch ON since {state.since_ist}: {state.reason}", highlight=False)


@incident_app.command("off")
def off(data_dir: Path | None = DataDirOption) -> None:
    """Accept writes again."""
    with instance_for(data_dir) as instance, unit_of_work(instance, writes=False) as session:
        ended = incident.turn_off(session=session, actor=None, context=cli_context())
    console.print(f"incident switch OFF (it was on since {ended.since_ist})", highlight=False)


@incident_app.command("status")
def status(data_dir: Path | None = DataDirOption) -> None:
    """Whether the instance is read-only, since when and why."""
    with instance_for(data_dir) as instance, instance.read_sessions() as session:
        state = incident.current(session=session)
    if state is None:
        console.print("incident switch off: writes are accepted")
    else:
        console.print(
            f"incident switch ON since {state.since_ist} (by {state.by}): {state.reason}",
            highlight=False,
        )
