"""``polaris``: set up, run and administer an instance from the command line."""

from __future__ import annotations

import sys

import typer

from polaris.cli import (
    admin,
    audit_cmds,
    backup_cmds,
    chat_cmds,
    doctor_cmd,
    events_cmds,
    guard_cmds,
    import_cmd,
    incident_cmds,
    jobs_cmds,
    recover_cmd,
    restore_cmds,
    retention_cmds,
    search_cmds,
    setup,
    storage_cmds,
)
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
app.command("doctor")(doctor_cmd.doctor)
app.command("restore")(restore_cmds.restore_command)
app.command("recover")(recover_cmd.recover_command)
app.add_typer(jobs_cmds.jobs_app, name="jobs", help="The background job queue.")
app.add_typer(events_cmds.events_app, name="events", help="The change stream and its consumers.")
app.add_typer(search_cmds.search_app, name="search", help="The full-text search index.")
app.add_typer(chat_cmds.chat_app, name="chat", help="The messenger: exports for an inquiry.")
app.add_typer(admin.units_app, name="units", help="Units of the hierarchy.")
app.add_typer(admin.users_app, name="users", help="Bulk user administration.")
app.add_typer(admin.user_app, name="user", help="One user's account.")
app.add_typer(admin.token_app, name="token", help="API tokens.")
app.add_typer(audit_cmds.audit_app, name="audit", help="The tamper-evident audit log.")
app.add_typer(storage_cmds.storage_app, name="storage", help="The encrypted blob store.")
app.add_typer(backup_cmds.backup_app, name="backup", help="Continuous backups to another target.")
app.add_typer(
    retention_cmds.retention_app, name="retention", help="Retention rules and legal holds."
)
app.add_typer(
    incident_cmds.incident_app, name="incident", help="The incident switch: read-only mode."
)
app.add_typer(guard_cmds.guard_app, name="guard", help="The ransomware guard.")


def run() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover - ``python -m polaris.cli.main``
    run()
