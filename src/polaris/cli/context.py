"""What every command needs: the instance's settings, a unit of work, the audit context, output."""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from polaris.audit.context import AuditContext
from polaris.config import CONFIG_FILE_NAME, Settings, load_settings
from polaris.db.uow import transaction
from polaris.errors import InstanceReadOnly, PolarisError
from polaris.incident import service as incident
from polaris.instance import Instance, open_instance
from polaris.web.sealing import seal_once

log = logging.getLogger("polaris.cli")

console = Console(stderr=False, soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

DataDirOption = typer.Option(
    None,
    "--data-dir",
    "-d",
    envvar="POLARIS_DATA_DIR",
    help="The instance's data directory (default: ./polaris-data).",
)


def settings_for(data_dir: Path | None) -> Settings:
    return load_settings(data_dir or os.environ.get("POLARIS_DATA_DIR") or "polaris-data")


def cli_context() -> AuditContext:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = f"uid{os.getuid()}"
    return AuditContext.system(f"cli:{who}")


def require_instance(settings: Settings) -> None:
    """Stop with a clear line when ``settings`` describe no instance at all.

    A node of a cluster may hold no key file (its keys can come from the environment), so its
    ``polaris.toml`` is enough; an instance made before that file existed has its master key file.
    """
    if (
        (settings.data_dir / CONFIG_FILE_NAME).is_file()
        or settings.resolved_master_key_file.exists()
        or settings.master_key is not None
    ):
        return
    fail(f"no Polaris instance in {settings.data_dir} (run 'polaris init {settings.data_dir}')")


@contextmanager
def instance_for(data_dir: Path | None) -> Iterator[Instance]:
    settings = settings_for(data_dir)
    require_instance(settings)
    instance = open_instance(settings)
    try:
        yield instance
        _seal_what_the_command_recorded(instance)
    finally:
        instance.close()


def _seal_what_the_command_recorded(instance: Instance) -> None:
    """Seal the audit records the command appended before it exits.

    A running server's sealer would chain them within ``audit_seal_seconds``; with none running
    (a restore, a drill, a verify on a stopped instance) they would stay unsealed and a later
    ``audit verify`` would flag them past the grace period. A refusal (a broken chain) is left to
    ``audit verify`` to report: the command's own result stands.
    """
    try:
        seal_once(instance, force=True)
    except (PolarisError, SQLAlchemyError) as error:
        log.warning("the audit records of this command are left unsealed: %s", error)


@contextmanager
def unit_of_work(instance: Instance, *, writes: bool = True) -> Iterator[Session]:
    """One transaction; a ``PolarisError`` becomes a clear message and exit status 1.

    A command that ``writes`` is refused while the incident switch is on (``polaris.incident``);
    recording a verify run and the switch itself pass ``writes=False``.
    """
    session = instance.sessions()
    try:
        with transaction(session):
            if writes:
                refuse_during_incident(session)
            yield session
    except PolarisError as error:
        report(error)
        raise typer.Exit(1) from error
    finally:
        session.close()


def refuse_during_incident(session: Session) -> None:
    state = incident.current(session=session)
    if state is not None:
        raise InstanceReadOnly(
            f"the incident switch is on since {state.since_ist}: {state.reason}; "
            "nothing was changed (polaris incident off, when the incident is over)"
        )


def report(error: PolarisError) -> None:
    errors.print(f"[bold red]error[/] ({error.code}): {error.detail}", highlight=False)
    for row_error in getattr(error, "errors", [])[:50]:
        errors.print(f"  {row_error}", highlight=False)


def fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar driven by ``callback(done, total)``."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
