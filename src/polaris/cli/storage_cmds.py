"""``polaris storage``: verify the blob store against the database; collect its garbage; write
the placement records a recovery without the database needs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from polaris.admin.stored_content import DatabaseReferences, record_gc, record_gc_start
from polaris.admin.verification import record_cli_run
from polaris.cli.context import (
    DataDirOption,
    cli_context,
    console,
    errors,
    instance_for,
    progress_bar,
    unit_of_work,
)
from polaris.drive.placements import record_every_node
from polaris.storage.gc import Garbage, collect_garbage
from polaris.storage.verify import VerifyProgress, verify_store

storage_app = typer.Typer(no_args_is_help=True)


@storage_app.command("verify")
def verify(data_dir: Path | None = DataDirOption) -> None:
    """Re-read and authenticate every stored object, and check that every file version, preview
    and upload in the database has all its content; list what is wrong and the files it breaks."""
    with instance_for(data_dir) as instance, progress_bar("verifying blobs") as progress:

        def on_step(step: VerifyProgress) -> None:
            progress(step.done, step.total)

        report = verify_store(
            instance.blobs,
            on_step,
            references=DatabaseReferences(instance.read_sessions),
            scratch_dir=instance.settings.data_dir,
        )
        detail = {
            "ok": report.ok,
            "checked": report.checked,
            "problems": len(report.findings) + report.findings_omitted,
            "broken_files": report.broken_references,
        }
        with unit_of_work(instance, writes=False) as session:
            record_cli_run(session=session, context=cli_context(), check="storage", detail=detail)
    for finding in report.findings:
        errors.print(f"[red]problem[/] {finding}", highlight=False)
    for finding in report.unverifiable:
        errors.print(f"[yellow]not checked[/] {finding}", highlight=False)
    unreferenced = (
        f"{report.unreferenced_chunk_count} unreferenced chunks, "
        f"{report.unreferenced_manifest_count} unreferenced manifests"
    )
    if not report.ok:
        problems = len(report.findings) + report.findings_omitted
        if report.findings_omitted:
            errors.print(f"… and {report.findings_omitted} more problem(s) not shown")
        errors.print(
            f"{problems} problem(s) in {report.checked} objects and references; "
            f"{report.broken_references} of {report.references} files, previews and uploads "
            f"have missing or damaged content; {unreferenced}"
        )
        raise typer.Exit(1)
    console.print(
        f"ok: {report.checked} objects and references verified "
        f"({report.references} files, previews and uploads; {report.placements} placement "
        f"records; {unreferenced})"
    )


@storage_app.command("gc")
def gc(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be removed, and how many bytes; remove nothing."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Remove chunks and manifests that nothing in the database needs and that are older than
    the grace period (setting ``storage.gc_grace_days``); the run is audited (``storage.gc``)."""
    with instance_for(data_dir) as instance:
        grace = dt.timedelta(days=instance.settings.storage.gc_grace_days)

        def on_garbage(garbage: Garbage) -> None:
            when = garbage.modified_at.isoformat(timespec="seconds")
            verb = "would remove" if dry_run else "removed"
            console.print(f"{verb} {garbage.name} ({garbage.size} bytes, {when})", highlight=False)

        if not dry_run:
            with unit_of_work(instance) as session:
                record_gc_start(
                    session=session,
                    context=cli_context(),
                    grace_days=instance.settings.storage.gc_grace_days,
                )
        report = collect_garbage(
            instance.blobs,
            references=DatabaseReferences(instance.read_sessions),
            grace=grace,
            dry_run=dry_run,
            on_garbage=on_garbage,
            scratch_dir=instance.settings.data_dir,
        )
        if not dry_run:
            with unit_of_work(instance) as session:
                record_gc(session=session, context=cli_context(), report=report)
    if report.refused is not None:
        errors.print(
            f"[bold red]refused:[/] {report.refused}; nothing was removed", highlight=False
        )
        raise typer.Exit(1)
    kept = (
        f"kept {report.kept_young} unreferenced object(s) younger than "
        f"{instance.settings.storage.gc_grace_days:g} days"
        + (f", {report.kept_reused} reused meanwhile" if report.kept_reused else "")
    )
    if dry_run:
        total = f"{report.garbage} object(s), {report.garbage_bytes} bytes"
        console.print(f"dry run: would remove {total}; {kept}")
    else:
        console.print(f"removed {report.removed} object(s), {report.removed_bytes} bytes; {kept}")


@storage_app.command("placements")
def placements(data_dir: Path | None = DataDirOption) -> None:
    """Write a placement record for every folder and file whose newest record does not say where
    it is (docs/storage-format.md §8a): once after upgrading from a version without them. Safe to
    run again (it writes only what is missing); the drive's consumer keeps them current."""
    with instance_for(data_dir) as instance, instance.sessions() as session:
        written = record_every_node(session, instance.blobs)
    console.print(f"placement records written: {written}")
