"""One place where a command's failure becomes one line on stderr and exit status 1.

A command fails for reasons its operator can fix: the database is not there, a key file is too
widely readable, a directory is not writable, a setting is wrong, this node's keys are not the
cluster's (``polaris.node``). Each of those deserves one line
saying what is wrong and what to do next, not a traceback (Typer's would also print the local
variables of every frame, master keys and passwords among them). :class:`PolarisGroup` is the
``polaris`` command's group class: it catches the known failures of any subcommand and prints
:func:`explain`'s line. Anything else is a bug and keeps its traceback; ``--debug`` (or
``POLARIS_DEBUG=1``) shows the traceback of a known failure too.
"""

from __future__ import annotations

import errno
import tomllib
from typing import Any

import pydantic
import typer
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from typer.core import TyperGroup

from polaris.audit.keys import AuditKeyError
from polaris.cli.context import errors
from polaris.errors import PolarisError
from polaris.node import NodeRefused

#: Where a database's location is set, for the next step of a database failure.
DATABASE_SETTING = "database_url in DATA_DIR/polaris.toml (or POLARIS_DATABASE_URL)"


class CommandFailed(Exception):
    """A failure whose message already says what is wrong and what to do next."""


class PolarisGroup(TyperGroup):
    """The ``polaris`` group: a known failure of any subcommand is one line, exit status 1."""

    def invoke(self, ctx: Any) -> Any:  # Typer's internal click Context, not ``typer.Context``
        try:
            return super().invoke(ctx)
        except Exception as error:
            line = explain(error)
            if line is None or ctx.params.get("debug"):
                raise
            shown = Text(line)
            shown.stylize("bold red", 0, len("error"))
            errors.print(shown)
            raise typer.Exit(1) from error


def explain(error: BaseException) -> str | None:
    """The one line for a failure the operator can fix, or ``None`` for a bug."""
    if isinstance(error, PolarisError):  # as ``context.report`` words it
        return _one_line(f"error ({error.code}): {error.detail}")
    reason = _reason(error)
    return None if reason is None else f"error: {reason}"


def _reason(error: BaseException) -> str | None:
    if isinstance(error, CommandFailed):
        return _one_line(str(error))
    if isinstance(error, AuditKeyError | NodeRefused):
        return _one_line(str(error))
    if isinstance(error, DBAPIError):
        return _database_error(error)
    if isinstance(error, OSError):
        return _os_error(error)
    if isinstance(error, pydantic.ValidationError):
        return _settings_error(error)
    if isinstance(error, tomllib.TOMLDecodeError):
        return _one_line(f"polaris.toml is not valid TOML: {error}")
    return None


def database_unreachable(url: str, error: Exception) -> str:
    """What is wrong with the database at ``url``, without its password."""
    reason = _driver_reason(error) if isinstance(error, DBAPIError) else str(error)
    return _one_line(f"cannot use the database {safe_url(url)}: {reason}")


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable database URL)"


def _database_error(error: DBAPIError) -> str | None:
    reason = _driver_reason(error)
    if _missing_table(error):
        return _one_line(
            f"the database has no Polaris tables or old ones ({reason}); "
            "run: polaris migrate (with the same --data-dir)"
        )
    if isinstance(error, OperationalError):
        return _one_line(f"cannot use the database: {reason}; check {DATABASE_SETTING}")
    return None  # a constraint or a statement the code got wrong: a bug


def _missing_table(error: DBAPIError) -> bool:
    if getattr(error.orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    return "no such table" in str(error.orig)


def _driver_reason(error: DBAPIError) -> str:
    """The driver's own words; for PostgreSQL the server's FATAL message when there is one."""
    text = str(error.orig)
    if "FATAL:" in text:
        text = text.rsplit("FATAL:", 1)[1]
    lines = text.strip().splitlines()  # PostgreSQL adds the statement's LINE and a caret
    return _one_line(lines[0] if lines else repr(error.orig))


def _os_error(error: OSError) -> str:
    where = f": {error.filename}" if error.filename is not None else ""
    if error.errno in (errno.EACCES, errno.EPERM):
        return _one_line(
            f"permission denied{where}; run polaris as the user that owns the data directory,"
            " or give that user access to it"
        )
    if error.errno == errno.ENOSPC:
        return _one_line(f"no space left on the device{where}")
    return _one_line(f"{error.strerror or error}{where}")


def _settings_error(error: pydantic.ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "settings"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return _one_line(
        f"invalid setting {where}: {first['msg']}{more}; fix DATA_DIR/polaris.toml "
        "or the POLARIS_* environment variable"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
