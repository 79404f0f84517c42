"""``polaris events``: where the change stream stands, and each consumer behind it."""

from __future__ import annotations

from pathlib import Path

import typer

from polaris.cli.context import DataDirOption, console, instance_for

events_app = typer.Typer(no_args_is_help=True, help="The change stream and its consumers.")


@events_app.command("status")
def status(data_dir: Path | None = DataDirOption) -> None:
    """The head position, the oldest event kept, and each consumer's position, lag and last
    error. A lag that does not shrink means no runner is running, or a consumer keeps failing."""
    from polaris.events import stream_status
    from polaris.handlers import load_consumers

    load_consumers()
    with instance_for(data_dir) as instance:
        session = instance.read_sessions()
        try:
            with session.begin():
                found = stream_status(session)
        finally:
            session.close()
    console.print(f"head: {found.head}")
    oldest = "none kept" if found.oldest is None else str(found.oldest)
    console.print(f"oldest kept: {oldest}")
    console.print(f"waiting for a position: {found.unsequenced}")
    for consumer in found.consumers:
        if consumer.position is None:
            line = f"{consumer.name}: not started"
        else:
            line = f"{consumer.name}: position {consumer.position}, lag {consumer.lag}"
        if not consumer.registered:
            line += " (not registered here)"
        console.print(line, highlight=False)
        if consumer.error is not None:
            when = f"{consumer.failed_at:%Y-%m-%d %H:%M:%S} UTC" if consumer.failed_at else ""
            console.print(f"  [red]last error[/] {when}: {consumer.error}", highlight=False)
