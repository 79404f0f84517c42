"""``polaris``: set up, run and administer an instance from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from polaris.cli import admin, audit_cmds, import_cmd, jobs_cmds, search_cmds, setup
from polaris.cli.context import DataDirOption, instance_for
from polaris.cli.failures import PolarisGroup

app = typer.Typer(
    help="Polaris: sovereign document cloud and messenger.",
    no_args_is_help=True,
    cls=PolarisGroup,
    # A traceback's local variables would include master keys and passwords.
    pretty_exceptions_show_locals=False,
)


@app.callback()
def options(
    debug: bool = typer.Option(
        False, "--debug", envvar="POLARIS_DEBUG", help="Show the traceback of a failure."
    ),
) -> None:
    """Polaris: sovereign document cloud and messenger."""


app.command("init")(setup.init)
app.command("migrate")(setup.migrate)
app.command("serve")(setup.serve)
app.command("demo")(setup.demo)
app.command("worker")(jobs_cmds.worker)
app.command("import")(import_cmd.import_tree)
app.add_typer(jobs_cmds.jobs_app, name="jobs", help="The background job queue.")
app.add_typer(search_cmds.search_app, name="search", help="The full-text search index.")
app.add_typer(admin.units_app, name="units", help="Units of the hierarchy.")
app.add_typer(admin.users_app, name="users", help="Bulk user administration.")
app.add_typer(admin.user_app, name="user", help="One user's account.")
app.add_typer(admin.token_app, name="token", help="API tokens.")
app.add_typer(audit_cmds.audit_app, name="audit", help="The tamper-evident audit log.")

storage_app = typer.Typer(no_args_is_help=True, help="The encrypted blob store.")
app.add_typer(storage_app, name="storage")


@storage_app.command("verify")
def storage_verify(data_dir: Path | None = DataDirOption) -> None:
    """Re-read and authenticate every stored object; list what is wrong."""
    from polaris.cli.context import console, errors, progress_bar
    from polaris.storage.verify import VerifyProgress

    with instance_for(data_dir) as instance, progress_bar("verifying blobs") as progress:

        def on_object(step: VerifyProgress) -> None:
            progress(step.done, step.total)

        report = instance.blobs.verify(progress=on_object)
    for finding in report.findings:
        errors.print(f"[red]problem[/] {finding.object_name}: {finding.reason}", highlight=False)
    for finding in report.unverifiable:
        errors.print(f"[yellow]not checked[/] {finding.object_name}: {finding.reason}")
    if report.findings:
        errors.print(f"{len(report.findings)} problem(s) found in {report.checked} objects")
        raise typer.Exit(1)
    console.print(
        f"ok: {report.checked} objects verified"
        + (f" ({len(report.orphan_chunks)} unreferenced chunks)" if report.orphan_chunks else "")
    )


def run() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover - ``python -m polaris.cli.main``
    run()
