"""``polaris import``: bring a directory of scanned records into a space (see ``ingest.bulk``)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path, PurePosixPath

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.cli.context import DataDirOption, console, errors, fail, instance_for, unit_of_work
from polaris.drive import spaces
from polaris.drive.models import Space
from polaris.identity import units, users
from polaris.identity.actors import RequestInfo, actor_context, actor_for
from polaris.instance import Instance


class PerMinuteColumn(TextColumn):
    """Pages (or files) a minute, from Rich's own speed estimate."""

    def __init__(self, unit: str) -> None:
        super().__init__("")
        self._unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed * 60:,.0f} {self._unit}/min")


def import_tree(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, readable=True),
    space: str = typer.Option(
        ..., help="Where to: unit:CODE (a unit's space), user:NAME, or a space id."
    ),
    as_user: str = typer.Option(
        ..., "--as", help="The officer importing: files are theirs and the audit log says so."
    ),
    folder: str = typer.Option("", help="A folder path inside the space (made if missing)."),
    workers: int = typer.Option(2, min=1, max=32, help="Threads running OCR and previews."),
    process: bool = typer.Option(True, help="Run the text, OCR and preview jobs here too."),
    summary: Path | None = typer.Option(
        None, help="Where to write the summary (default: polaris-import-<time>.json)."
    ),
    verbose: bool = typer.Option(False, help="A line for every file."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Import a tree of scans (TIFF, JPEG, PNG, PDF), keeping its folders. A re-run skips what
    is done; every file not imported is listed with its reason in the summary."""
    from polaris.handlers import load_consumers, load_job_handlers
    from polaris.ingest import bulk

    load_job_handlers()
    load_consumers()
    summary = summary or Path(f"polaris-import-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json")
    with instance_for(data_dir) as instance:
        actor, folder_id = _target(instance, as_user, space, folder)
        context = actor_context(
            actor, RequestInfo(client="cli:import", request_id=uuid.uuid4().hex[:16])
        )
        files, failures = bulk.scan(directory)
        report = bulk.ImportReport(failures=failures)
        console.print(f"{len(files)} scan(s) to import, {len(failures)} other file(s) listed")
        importer = bulk.Importer(instance, actor=actor, context=context, folder_id=folder_id)
        with _progress() as progress:
            storing = progress.add_task("storing", total=len(files), rate="")

            def on_file(item: bulk.ScanFile, outcome: str) -> None:
                progress.advance(storing)
                if verbose:
                    console.print(f"{outcome}\t{item.relative}", highlight=False)

            importer.store_all(files, report, on_file=on_file)
            if process and report.versions:
                pages = progress.add_task("processing pages", total=None)

                def on_pages(done: int, total: int) -> None:
                    progress.update(pages, completed=done, total=total)

                bulk.process(instance, report, threads=workers, on_progress=on_pages)
    summary.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), "utf-8")
    console.print(
        f"imported {report.imported}, already there {report.skipped}, "
        f"not imported or failed {len(report.failures)}; summary in {summary}"
    )
    for failure in report.failures[:20]:
        errors.print(
            f"[red]{failure.stage}[/] {failure.relative}: {failure.reason}", highlight=False
        )
    if report.failures:
        raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        PerMinuteColumn("/"),
        TimeRemainingColumn(),
        console=errors,
    )


def _target(instance: Instance, username: str, space_spec: str, folder: str) -> tuple[Actor, int]:
    """The importing officer and the folder to import into (made if missing)."""
    from polaris.drive import service

    with unit_of_work(instance) as session:
        user = users.get_by_username(session=session, username=username)
        if user.disabled_at is not None:
            fail(f"user {username!r} is disabled")
        actor = actor_for(session=session, user=user, auth_factors="cli")
        found = _space(session, instance, actor, space_spec)
        context = actor_context(actor, RequestInfo(client="cli:import"))
        folder_id = spaces.root_node(session, found).id
        for part in PurePosixPath(folder.strip("/")).parts if folder.strip("/") else ():
            located, _ = service.ensure_folder(
                session=session, actor=actor, context=context, parent_id=folder_id, name=part
            )
            folder_id = located.node.id
    return actor, folder_id


def _space(session: Session, instance: Instance, actor: Actor, spec: str) -> Space:
    defaults = spaces.space_defaults(instance.settings)
    kind, _, value = spec.partition(":")
    if kind == "unit" and value:
        return spaces.ensure_unit_space(
            session, units.get_by_code(session=session, code=value), defaults
        )
    if kind == "user" and value:
        return spaces.ensure_user_space(
            session, users.get_by_username(session=session, username=value), defaults
        )
    if spec.isdigit():
        return spaces.get_space(session=session, actor=actor, space_id=int(spec))
    fail(f"--space must be unit:CODE, user:NAME or a space id, not {spec!r}")
    raise AssertionError  # fail() exits
