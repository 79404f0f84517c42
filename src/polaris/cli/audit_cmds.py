"""``polaris audit``: verify the chain, seal a checkpoint, export for a SIEM."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from polaris.admin.verification import record_cli_run
from polaris.audit import anchor
from polaris.audit import service as audit
from polaris.cli.context import (
    DataDirOption,
    cli_context,
    console,
    errors,
    instance_for,
    progress_bar,
    unit_of_work,
)

audit_app = typer.Typer(no_args_is_help=True)


@audit_app.command("verify")
def verify(
    anchor_file: Path | None = typer.Option(
        None,
        "--anchor",
        help="Checkpoints kept outside the database (the anchor file, or an export) to compare.",
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Recompute the hash chain and check signed checkpoints; name the position of any problem.

    Records older than the sealing interval plus its grace must be covered by a checkpoint.
    """
    with instance_for(data_dir) as instance, progress_bar("verifying audit log") as progress:
        session = instance.read_sessions()
        try:
            report = audit.verify(
                session=session,
                public_keys=[instance.audit_signer.public_key],
                progress=progress,
                max_unsealed_age=instance.settings.audit_max_unsealed_age,
                # The configured anchor file unless another copy is named.
                anchor_file=anchor_file or instance.settings.audit_anchor_file,
            )
        except anchor.AnchorError as error:
            errors.print(f"[red]error[/]: {error}", highlight=False)
            raise typer.Exit(2) from None
        finally:
            session.close()
        detail = {
            "ok": report.ok,
            "records": report.records,
            "checkpoints_valid": report.checkpoints_valid,
            "problems": len(report.findings) + report.findings_omitted,
        }
        with unit_of_work(instance, writes=False) as writer:
            record_cli_run(session=writer, context=cli_context(), check="audit", detail=detail)
    for finding in report.findings:
        where = f"record {finding.seq}" if finding.seq is not None else "log"
        errors.print(
            f"[red]problem[/] at {where}: {finding.kind.value}: {finding.message}", highlight=False
        )
    if not report.ok:
        total = len(report.findings) + report.findings_omitted
        errors.print(f"{total} problem(s) in {report.records} records")
        raise typer.Exit(1)
    compared = anchor_file or instance.settings.audit_anchor_file
    anchored = f", {report.anchored} anchored checkpoints match" if compared else ""
    console.print(
        f"ok: {report.records} records, {report.checkpoints_valid} valid signed checkpoints"
        f"{anchored}"
    )


@audit_app.command("seal")
def seal(
    adopt: bool = typer.Option(
        False,
        "--adopt",
        help="Also sign over sealed records that no checkpoint covers (after verify: only if "
        "they are as they should be).",
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Chain the records waiting to be sealed and sign a checkpoint over them now."""
    sealed = None
    with instance_for(data_dir) as instance:
        while True:
            session = instance.sessions()
            try:
                with session.begin():
                    checkpoint = audit.seal(
                        session=session, signer=instance.audit_signer, adopt=adopt
                    )
            except audit.SealRefused as error:
                errors.print(f"[red]refused[/]: {error}", highlight=False)
                raise typer.Exit(1) from None
            finally:
                session.close()
            if checkpoint is None:
                break
            anchor.publish(checkpoint, instance.settings.audit_anchor_file)
            sealed, adopt = checkpoint.seq, False
    console.print("already sealed" if sealed is None else f"sealed up to record {sealed}")


@audit_app.command("export")
def export(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: stdout)."
    ),
    since_seq: int | None = typer.Option(None, help="Only records after this sequence number."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Write the sealed audit log as JSON lines, one record per line, for a SIEM.

    Each signed checkpoint follows the record it covers as a line with "kind": "checkpoint";
    the file can be given to `verify --anchor` later.
    """
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
