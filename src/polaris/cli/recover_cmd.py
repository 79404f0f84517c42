"""``polaris recover``: a new instance from the blob store alone, when the database is lost for
good (docs/operations.md, "Recovery without the database").

The instance's own settings are not used: the data directory they live in is what was lost, and a
recovery must name exactly which store it reads. So the store (or a backup target), the empty
directory and the escrowed master key are given on the command line. The command reads and
authenticates every manifest and placement record, plans the tree (``admin.recovery_plan``),
makes the instance (keys, settings, schema; the store copied in, or used where it is with
``--in-place``), rebuilds the rows (``admin.recovery``), then runs ``storage verify`` and
``audit verify`` on it. What could not be placed as it was is listed on the terminal and in
``recovery-report.txt`` in the new directory.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from polaris.admin.recovery import Rebuilt, read_store, rebuild
from polaris.admin.recovery_plan import LOST_FOUND, Plan, plan_recovery
from polaris.admin.restore_check import check_restored
from polaris.audit.keys import create_key_file, load_key_file
from polaris.cli import node_setup
from polaris.cli.context import cli_context, console, errors
from polaris.cli.failures import CommandFailed
from polaris.config import CONFIG_FILE_NAME, load_settings
from polaris.db.engine import make_engine
from polaris.db.migrate import upgrade
from polaris.db.uow import unit_of_work
from polaris.errors import PolarisError
from polaris.identity import roles, users
from polaris.instance import open_instance
from polaris.storage import names
from polaris.storage.backend import Backend
from polaris.storage.backends import storage_settings_from_url
from polaris.storage.keys import load_master_key_file
from polaris.storage.local import LocalBackend
from polaris.storage.store import BlobStore

REPORT_FILE = "recovery-report.txt"
#: Problems shown on the terminal; the report file has them all.
SHOWN = 20

Reporter = Callable[[str, int, int | None], None]


def recover_command(
    blobs: str = typer.Option(
        ...,
        "--blobs",
        metavar="DIR_OR_URL",
        help="The blob store (its directory or s3:// URL), or a backup target (its blobs/ is "
        "read).",
    ),
    target: Path = typer.Option(
        ...,
        "--target",
        "--data-dir",
        help="The new instance's data directory (missing or empty); --data-dir is the same.",
    ),
    master_key_file: Path = typer.Option(
        ..., "--master-key-file", help="The master key file (the escrow copy)."
    ),
    audit_key_file: Path | None = typer.Option(
        None, "--audit-key-file", help="The audit signing key to keep (default: a new key)."
    ),
    admin: str = typer.Option(
        "recovery-admin", "--admin", metavar="USERNAME", help="The administrator made for it."
    ),
    in_place: bool = typer.Option(
        False,
        "--in-place",
        help="Keep the store where it is as the new instance's store (an S3 bucket) instead "
        "of copying it into TARGET/blobs.",
    ),
) -> None:
    """Rebuild spaces, folders, files and versions from the blob store's manifests and placement
    records into a new instance, when the database is lost and no backup of it can be restored.
    Exit status 1 if anything could not be placed as it was, or the result does not verify."""
    started = time.monotonic()
    directory = target.expanduser().absolute()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise CommandFailed(f"{directory} is not empty: recover only into an empty directory")
    users.check_username(admin)
    keyring = load_master_key_file(master_key_file)
    if audit_key_file is not None:
        load_key_file(audit_key_file)  # a wrong file is refused before anything is written
    source, where, is_target = _source(blobs)
    if in_place and is_target:
        raise CommandFailed(
            f"{where} is a backup target: it stays a backup; leave out --in-place to copy it"
        )
    try:
        store = BlobStore.open(source, keyring)
    except PolarisError as error:
        raise CommandFailed(f"{where}: {error.detail}") from error
    made = not directory.exists()
    try:
        with _progress() as report:
            contents = read_store(store, report)
            plan = plan_recovery(contents.manifests, contents.placements)
            problems = contents.unreadable + plan.problems
            _make_instance(directory, master_key_file, audit_key_file, blobs if in_place else None)
            if not in_place:
                _copy(source, LocalBackend(directory / "blobs"), report)
            _migrate(directory)
            instance = open_instance(load_settings(directory))
            try:
                rebuilt = rebuild(
                    instance, plan, admin=admin, context=cli_context(), source=where,
                    problems=len(problems), progress=report,
                )  # fmt: skip
                report("verifying", 0, None)
                check = check_restored(instance, sample=20)
                report("verifying", 1, 1)
            finally:
                instance.close()
    except BaseException:
        _remove(directory, made)
        raise
    seconds = time.monotonic() - started
    lines = _summary(plan, rebuilt, where, seconds)
    _write_report(directory / REPORT_FILE, lines, problems, plan.notes + rebuilt.notes)
    for line in lines + check.lines():
        console.print(line, highlight=False, markup=False)
    for problem in problems[:SHOWN]:
        errors.print(f"problem: {problem}", highlight=False, markup=False)
    if len(problems) > SHOWN:
        errors.print(f"… and {len(problems) - SHOWN} more", highlight=False, markup=False)
    console.print(f"report: {directory / REPORT_FILE}", highlight=False, markup=False)
    console.print(
        f"administrator {rebuilt.admin_username}, one-off password: {rebuilt.admin_password} "
        "(shown only now; a new password and MFA enrolment are asked at first sign-in)",
        highlight=False,
        markup=False,
    )
    if problems:
        errors.print(f"recovered, with {len(problems)} problem(s): see the report")
    if not check.ok:
        errors.print("the recovered instance is NOT whole: do not serve it; see above")
    if problems or not check.ok:
        raise typer.Exit(1)
    console.print(f"next: polaris serve --data-dir {directory}", highlight=False, markup=False)


def _source(location: str) -> tuple[Backend, str, bool]:
    """(backend, where, is a backup target): the store itself, or a target's ``blobs/``."""
    try:
        chosen = storage_settings_from_url(location)
    except ValueError as error:
        raise CommandFailed(f"--blobs: {error}") from error
    if chosen.s3 is not None:
        from polaris.storage.s3 import S3Backend

        store: Backend = S3Backend(chosen.s3)
        if _holds_store(store):
            return store, location, False
        prefix = f"{chosen.s3.prefix}/blobs" if chosen.s3.prefix else "blobs"
        target = S3Backend(chosen.s3.model_copy(update={"prefix": prefix}))
        if _holds_store(target):
            return target, f"{location} (backup target)", True
        raise CommandFailed(f"no blob store at {location} (nor in its blobs/)")
    assert chosen.path is not None
    path = chosen.path.expanduser().absolute()
    if (path / "keys").is_dir():
        return LocalBackend(path), str(path), False
    if (path / "blobs" / "keys").is_dir():
        return LocalBackend(path / "blobs"), f"{path} (backup target)", True
    raise CommandFailed(f"no blob store at {path} (no keys/, nor blobs/keys/)")


def _holds_store(backend: Backend) -> bool:
    return next(iter(backend.list(names.KEYS)), None) is not None


def _make_instance(
    directory: Path, master_key_file: Path, audit_key_file: Path | None, in_place: str | None
) -> None:
    """Keys and settings in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    shutil.copyfile(master_key_file, directory / "master.key")
    os.chmod(directory / "master.key", 0o600)
    if audit_key_file is not None:
        shutil.copyfile(audit_key_file, directory / "audit-signing.key")
        os.chmod(directory / "audit-signing.key", 0o600)
    else:
        create_key_file(directory / "audit-signing.key")
    storage: dict[str, Any] = {}
    if in_place is not None:
        chosen = storage_settings_from_url(in_place)
        if chosen.path is not None:
            chosen.path = chosen.path.expanduser().absolute()
        storage = chosen.model_dump(exclude_unset=True, exclude_none=True)
    text = node_setup.render_config(
        database_url="", storage=storage, master_key_file=None, audit_key_file=None,
        search_engine=None, redis_url=None,
    )  # fmt: skip
    (directory / CONFIG_FILE_NAME).write_text(text, encoding="utf-8")


def _migrate(directory: Path) -> None:
    """The schema and the default roles, in the new database (the store is in place by now)."""
    settings = load_settings(directory)
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    instance = open_instance(settings)
    try:
        with unit_of_work(instance.sessions) as session:
            roles.ensure_default_roles(session)
    finally:
        instance.close()


def _copy(source: Backend, destination: Backend, report: Reporter) -> None:
    """Every object as it is (sealed: nothing is decrypted), create-only."""
    total = sum(1 for _ in source.list())
    for done, name in enumerate(source.list(), start=1):
        destination.put(name, source.get(name))
        report("copying the store", done, total)


def _summary(plan: Plan, rebuilt: Rebuilt, where: str, seconds: float) -> list[str]:
    folders = sum(1 for node in plan.nodes if node.kind == "folder")
    files = sum(1 for node in plan.nodes if node.kind == "file")
    trashed = sum(1 for node in plan.nodes if node.trashed_at is not None)
    return [
        f"recovered from {where} in {seconds:.1f} s: {len(plan.spaces)} space(s), {folders} "
        f"folder(s), {files} file(s), {plan.versions} version(s); {trashed} in the trash",
        f"placeholders for the lost owners: {rebuilt.placeholder_units} unit(s), "
        f"{rebuilt.placeholder_accounts} disabled account(s), under unit RECOVERED",
        f"placement records written for the rebuilt tree: {rebuilt.placements_written}",
        "not recoverable from the store: accounts and passwords, the unit hierarchy, groups, "
        "shares, legal holds, retention rules, scan verdicts, the audit log (the new one "
        "records this recovery); the search index and previews are rebuilt by the workers",
    ]


def _write_report(path: Path, lines: list[str], problems: list[str], notes: list[str]) -> None:
    """The whole list, mode 0600: names and paths are as confidential as the files."""
    text = "\n".join(lines) + "\n"
    text += f"\nproblems ({len(problems)}): not placed as they were; see {LOST_FOUND}\n"
    text += "".join(f"- {problem}\n" for problem in problems)
    text += f"\nnotes ({len(notes)})\n" + "".join(f"- {note}\n" for note in notes)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _remove(directory: Path, made: bool) -> None:
    """Undo a failed recovery: the directory was missing or empty before."""
    if made:
        shutil.rmtree(directory, ignore_errors=True)
    elif directory.is_dir():
        for entry in directory.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


@contextmanager
def _progress() -> Iterator[Reporter]:
    """One bar per stage on the terminal (standard error), for runs of hours."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    ) as bars:
        tasks: dict[str, Any] = {}
        counts: dict[str, int] = {}

        def report(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                for previous, task in tasks.items():  # a new stage ends the one before
                    bars.update(task, total=counts[previous], completed=counts[previous])
                tasks[stage] = bars.add_task(stage, total=total)
            counts[stage] = done
            bars.update(tasks[stage], completed=done, total=total)

        yield report
        for stage, task in tasks.items():
            bars.update(task, total=max(counts[stage], 1), completed=max(counts[stage], 1))
