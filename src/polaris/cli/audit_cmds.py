"""``polaris audit``: verify the chain, seal a checkpoint, export for a SIEM."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from polaris.audit import service as audit
from polaris.cli.context import DataDirOption, console, errors, instance_for, progress_bar

audit_app = typer.Typer(no_args_is_help=True)


@audit_app.command("verify")
def verify(data_dir: Path | None = DataDirOption) -> None:
    """Recompute the hash chain and check signed checkpoints; name the position of any problem."""
    with instance_for(data_dir) as instance, progress_bar("verifying audit log") as progress:
        session = instance.read_sessions()
        try:
            report = audit.verify(
                session=session,
                public_keys=[instance.audit_signer.public_key],
                progress=progress,
            )
        finally:
            session.close()
    for finding in report.findings:
        where = f"record {finding.seq}" if finding.seq is not None else "log"
        errors.print(
            f"[red]problem[/] at {where}: {finding.kind.value}: {finding.message}", highlight=False
        )
    if not report.ok:
        total = len(report.findings) + report.findings_omitted
        errors.print(f"{total} problem(s) in {report.records} records")
        raise typer.Exit(1)
    console.print(
        f"ok: {report.records} records, {report.checkpoints_valid} valid signed checkpoints"
    )


@audit_app.command("seal")
def seal(data_dir: Path | None = DataDirOption) -> None:
    """Sign a checkpoint over the newest record now."""
    with instance_for(data_dir) as instance:
        session = instance.sessions()
        try:
            with session.begin():
                checkpoint = audit.seal(session=session, signer=instance.audit_signer)
        finally:
            session.close()
    console.print("already sealed" if checkpoint is None else f"sealed at record {checkpoint.seq}")


@audit_app.command("export")
def export(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: stdout)."
    ),
    since_seq: int | None = typer.Option(None, help="Only records after this sequence number."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Write the audit log as JSON lines, one record per line, for a SIEM."""
    with instance_for(data_dir) as instance:
        session = instance.read_sessions()
        try:
            if output is None:
                count = audit.export_jsonl(session=session, out=sys.stdout, since_seq=since_seq)
            else:
                with output.open("w", encoding="utf-8") as out:
                    count = audit.export_jsonl(session=session, out=out, since_seq=since_seq)
        finally:
            session.close()
    errors.print(f"exported {count} records")
