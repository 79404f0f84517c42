"""What the PostgreSQL server says about its WAL archiving, read over SQL, and the settings it
needs for pgBackRest (``polaris.backup.pgbackrest``).

Polaris cannot restart someone's PostgreSQL, so it checks the settings rather than assuming
them: ``backup status`` and ``backup run`` name each one that is wrong, and
``backup pg-setup`` sets them with ``ALTER SYSTEM`` where it has the right (a superuser), then
reloads; ``archive_mode`` and ``track_commit_timestamp`` take effect only after a restart, which
it asks the operator for.

``track_commit_timestamp`` is there for the lag: the archiver's statistics say when the last WAL
segment was archived, not whether anything was committed since, and an idle server writes a
little WAL of its own (not a change, and not switched out by ``archive_timeout``). The newest
commit's time tells the two apart.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from polaris.errors import StorageFailure

#: The settings checked, and their values as pg_settings shows them.
CHECKED = (
    "wal_level",
    "archive_mode",
    "archive_command",
    "archive_timeout",
    "track_commit_timestamp",
    "data_directory",
)
#: Settings that take effect only after a restart of the server.
RESTART = ("archive_mode", "track_commit_timestamp", "wal_level")
_SEGMENT = re.compile(r"[0-9A-F]{24}")


@dataclass(frozen=True)
class ServerFacts:
    """One reading of the server (all in one connection)."""

    settings: dict[str, str]
    #: Settings changed (ALTER SYSTEM, or the file) that wait for a restart.
    pending_restart: set[str]
    superuser: bool
    in_recovery: bool
    last_archived_wal: str | None
    last_archived_at: dt.datetime | None
    last_failed_wal: str | None
    last_failed_at: dt.datetime | None
    #: The WAL segment the next record goes to (None on a standby).
    current_segment: str | None
    #: The newest commit's time (None: no commit since tracking began, or tracking is off).
    last_commit_at: dt.datetime | None

    @property
    def archived_segment(self) -> str | None:
        """The newest archived segment's name (a backup label or history file counts as the
        segment it names; a timeline history file alone names none)."""
        name = self.last_archived_wal or ""
        return name[:24] if _SEGMENT.fullmatch(name[:24]) else None

    @property
    def data_directory(self) -> str | None:
        """Shown only to a superuser or pg_read_all_settings."""
        return self.settings.get("data_directory")


def postgres_url(database_url: str) -> URL | None:
    """The URL when the database is PostgreSQL, else None."""
    url = make_url(database_url)
    return url if url.get_backend_name() == "postgresql" else None


def _engine_url(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def read_facts(url: URL) -> ServerFacts:
    """Read the settings and the archiver's statistics; StorageFailure when the server does
    not answer."""
    engine = create_engine(_engine_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT name, setting, pending_restart FROM pg_settings "
                    "WHERE name = ANY(:names)"
                ),
                {"names": list(CHECKED)},
            ).all()
            superuser = connection.scalar(text("SELECT current_setting('is_superuser')")) == "on"
            in_recovery = bool(connection.scalar(text("SELECT pg_is_in_recovery()")))
            archiver = connection.execute(
                text(
                    "SELECT last_archived_wal, last_archived_time, last_failed_wal, "
                    "last_failed_time FROM pg_stat_archiver"
                )
            ).one()
            current = None
            if not in_recovery:
                current = connection.scalar(
                    text("SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
                )
            settings = {name: setting for name, setting, _ in rows}
            last_commit = None
            if settings.get("track_commit_timestamp") == "on":
                last_commit = connection.scalar(text("SELECT (pg_last_committed_xact()).timestamp"))
    except SQLAlchemyError as error:
        detail = _message(error)
        raise StorageFailure(f"cannot read PostgreSQL's settings: {detail}") from None
    finally:
        engine.dispose()
    return ServerFacts(
        settings=settings,
        pending_restart={name for name, _, pending in rows if pending},
        superuser=superuser,
        in_recovery=in_recovery,
        last_archived_wal=archiver.last_archived_wal,
        last_archived_at=archiver.last_archived_time,
        last_failed_wal=archiver.last_failed_wal,
        last_failed_at=archiver.last_failed_time,
        current_segment=current,
        last_commit_at=last_commit,
    )


def wanted_settings(archive_command: str, archive_timeout: int) -> dict[str, str]:
    """What the server needs (``wal_level`` only when it is ``minimal``: see :func:`problems`)."""
    return {
        "archive_mode": "on",
        "archive_command": archive_command,
        "archive_timeout": str(archive_timeout),
        "track_commit_timestamp": "on",
    }


def problems(facts: ServerFacts, archive_command: str, archive_timeout: int) -> list[str]:
    """Each setting that keeps WAL from reaching pgBackRest in time, said plainly."""
    found: list[str] = []
    settings = facts.settings
    if settings.get("wal_level") == "minimal":
        found.append("wal_level is minimal (set it to replica and restart PostgreSQL)")
    if settings.get("archive_mode") not in ("on", "always"):
        found.append(_wrong(facts, "archive_mode", "on"))
    if settings.get("archive_command") != archive_command:
        found.append(_wrong(facts, "archive_command", archive_command))
    timeout = int(settings.get("archive_timeout") or 0)
    if not 0 < timeout <= archive_timeout:
        found.append(
            f"archive_timeout is {timeout} s, not at most {archive_timeout} s "
            "(WAL waits longer than that for the backup)"
        )
    if settings.get("track_commit_timestamp") != "on":
        found.append(_wrong(facts, "track_commit_timestamp", "on"))
    return found


def _wrong(facts: ServerFacts, name: str, wanted: str) -> str:
    shown = facts.settings.get(name)
    current = "hidden from this role" if shown is None else repr(shown)
    message = f"{name} is {current}, not {wanted!r}"
    if name in facts.pending_restart:
        message += " (changed: restart PostgreSQL for it to take effect)"
    elif name in RESTART:
        message += " (needs a restart of PostgreSQL after it is set)"
    return message


def apply_settings(url: URL, wanted: dict[str, str]) -> list[str]:
    """``ALTER SYSTEM SET`` each of ``wanted`` and reload: the names set. Needs a superuser
    (or ALTER SYSTEM granted on each parameter); StorageFailure naming what was refused."""
    engine = create_engine(_engine_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    done: list[str] = []
    try:
        with engine.connect() as connection:
            # ALTER SYSTEM takes no bind parameters: psycopg quotes the name and the value, and
            # runs the statement unparsed (archive_command's %p is no placeholder).
            raw = connection.connection.driver_connection
            assert raw is not None
            for name, value in wanted.items():
                statement = sql.SQL("ALTER SYSTEM SET {} = {}")
                raw.execute(statement.format(sql.Identifier(name), sql.Literal(value)))
                done.append(name)
            connection.execute(text("SELECT pg_reload_conf()"))
    except SQLAlchemyError as error:
        detail = _message(error)
        raise StorageFailure(
            f"ALTER SYSTEM refused ({detail}): set the settings above in postgresql.conf by hand"
        ) from None
    finally:
        engine.dispose()
    return done


def _message(error: SQLAlchemyError) -> str:
    """The driver's message (first line), not SQLAlchemy's wrapping of it."""
    orig = getattr(error, "orig", None)
    lines = str(orig if orig is not None else error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
