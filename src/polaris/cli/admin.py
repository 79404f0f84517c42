"""Commands that administer units, users and tokens. Each runs in one audited transaction."""

from __future__ import annotations

from pathlib import Path

import typer

from polaris.access.policy import Classification
from polaris.cli.context import (
    DataDirOption,
    cli_context,
    console,
    fail,
    instance_for,
    progress_bar,
    unit_of_work,
)
from polaris.identity import program_tokens, units, users

units_app = typer.Typer(no_args_is_help=True)
users_app = typer.Typer(no_args_is_help=True)
user_app = typer.Typer(no_args_is_help=True)
token_app = typer.Typer(no_args_is_help=True)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}")
        raise


@units_app.command("add")
def add_unit(
    code: str,
    name: str = typer.Option(..., help="The unit's name."),
    kind: units.UnitKind = typer.Option(..., help="What kind of office it is."),
    parent: str | None = typer.Option(None, help="Code of the unit above (none for the HQ)."),
    name_hi: str | None = typer.Option(None, help="The name in Hindi."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Add one unit: the top unit (--kind hq) or one under --parent."""
    spec = units.UnitSpec(code, name, kind, parent, name_hi)
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        units.create_unit(session=session, spec=spec, context=cli_context())
    console.print(f"added unit {code}", highlight=False)


@units_app.command("import")
def import_units(file: Path, data_dir: Path | None = DataDirOption) -> None:
    """Import units from CSV (code,name,kind,parent_code[,name_hi]): all rows or none."""
    data = _read(file)
    with (
        instance_for(data_dir) as instance,
        progress_bar("importing units") as progress,
        unit_of_work(instance) as session,
    ):
        created = units.import_units_csv(
            session=session, data=data, context=cli_context(), progress=progress
        )
    console.print(f"imported {len(created)} units")


@users_app.command("import")
def import_users(
    file: Path,
    passwords_out: Path | None = typer.Option(
        None, help="Write generated first-sign-in passwords here (mode 0600)."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Import users from CSV (username,full_name,unit_code,role[,rank,clearance,password])."""
    data = _read(file)
    with (
        instance_for(data_dir) as instance,
        progress_bar("importing users") as progress,
        unit_of_work(instance) as session,
    ):
        created = users.import_users_csv(
            session=session,
            data=data,
            passwords=instance.auth.passwords,
            context=cli_context(),
            progress=progress,
        )
    generated = [(c.user.username, c.initial_password) for c in created if c.initial_password]
    if generated:
        if passwords_out is None:
            for username, password in generated:
                console.print(f"{username}\t{password}", highlight=False)
        else:
            passwords_out.touch(mode=0o600)
            passwords_out.write_text("".join(f"{u}\t{p}\n" for u, p in generated), encoding="utf-8")
    console.print(f"imported {len(created)} users")


@user_app.command("add")
def add_user(
    username: str,
    full_name: str = typer.Option(..., "--name"),
    unit: str = typer.Option(..., help="Unit code."),
    role: str = typer.Option(...),
    rank: str | None = typer.Option(None),
    clearance: str | None = typer.Option(None, help="unclassified|restricted|confidential|secret"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Add one user with a generated first-sign-in password (printed once)."""
    level = None
    if clearance is not None:
        try:
            level = Classification[clearance.upper()]
        except KeyError:
            fail(f"unknown clearance {clearance!r}")
    spec = users.UserSpec(
        username=username,
        full_name=full_name,
        unit_code=unit,
        role=role,
        rank=rank,
        clearance=level,
    )
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        created = users.create_user(
            session=session, spec=spec, passwords=instance.auth.passwords, context=cli_context()
        )
    console.print(
        f"added {created.user.username}; first sign-in password: {created.initial_password} "
        "(shown only now; a new password is asked at first sign-in)",
        highlight=False,
    )


@user_app.command("disable")
def disable_user(username: str, data_dir: Path | None = DataDirOption) -> None:
    """Disable a user and end every session and token of theirs at once."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        users.disable_user(session=session, username=username, context=cli_context())
    console.print(f"disabled {username}; all sessions and tokens ended")


@user_app.command("reset-password")
def reset_password(username: str, data_dir: Path | None = DataDirOption) -> None:
    """Give a user a new generated password (MFA stays as it is)."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        generated = users.reset_password(
            session=session,
            username=username,
            passwords=instance.auth.passwords,
            context=cli_context(),
        )
    console.print(f"new password for {username}: {generated}", highlight=False)


@user_app.command("reset-mfa")
def reset_mfa(username: str, data_dir: Path | None = DataDirOption) -> None:
    """Remove a user's second factor; they enrol again at next sign-in."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        users.reset_mfa(session=session, username=username, context=cli_context())
    console.print(f"MFA removed for {username}; enrolment is asked at next sign-in")


@token_app.command("create")
def create_token(
    username: str,
    name: str = typer.Option(..., help="What the token is for."),
    scope: list[str] = typer.Option(["read"], help="read, write or all; repeat for several."),
    days: int = typer.Option(90, help="Lifetime in days (1–366)."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create an API token for a user; the secret is printed once."""
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        user = users.get_by_username(session=session, username=username)
        issued = program_tokens.create_token(
            session=session,
            user=user,
            name=name,
            scopes=scope,
            lifetime_days=days,
            context=cli_context(),
        )
    console.print(issued.secret, highlight=False)
