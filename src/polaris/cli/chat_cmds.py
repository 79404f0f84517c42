"""``polaris chat``: the messenger's operator commands (docs/chat.md, "Export for an inquiry").
Run by the instance's operator: audited as the CLI's system user."""

from __future__ import annotations

from pathlib import Path

import typer

from polaris.chat import export
from polaris.cli.context import DataDirOption, cli_context, console, instance_for, unit_of_work

chat_app = typer.Typer(no_args_is_help=True)


@chat_app.command("export")
def export_room(
    room_id: int,
    reason: str = typer.Option(..., "--reason", help="Why (an inquiry, a court order): audited."),
    out: Path = typer.Option(..., "--out", help="The file to write (created, never overwritten)."),
    fmt: str = typer.Option("json", "--format", help="json, or text (a transcript in IST)."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Export a room's whole record: every message with edits and deleted text, members and
    membership changes, attachments with drive node, version and SHA-256."""
    if out.exists():
        raise typer.BadParameter(f"{out} exists: name a new file", param_hint="--out")
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        record = export.export_room(
            session=session,
            actor=None,
            context=cli_context(),
            room_id=room_id,
            reason=reason,
            fmt=fmt,
        )
        rendered = export.render(record, fmt)
    with out.open("x", encoding="utf-8") as handle:
        handle.write(rendered)
    events = len(record.data["events"])
    console.print(f"room {room_id}: {events} event(s) written to {out}", highlight=False)
