"""What ``polaris init`` needs to make one node of a cluster, and to add another (``--join``).

A node of the state-scale shape keeps nothing another node needs: the database is PostgreSQL,
the blob store is shared (an S3 bucket), and the keys are the operator's, distributed to every node
as files or environment variables. Its data directory then holds ``polaris.toml`` and caches
only, and losing it loses nothing. So a first node of such a cluster does not write its keys into
its data directory: they go where the operator said (``--master-key-file``, ``--audit-key-file``),
or come from the environment (``POLARIS_MASTER_KEY``, ``POLARIS_AUDIT_KEY``). A joining node
writes its settings only, then opens the instance as ``serve`` would, so that a wrong key, an
empty database or another store is refused before it is ever started (``polaris.node``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

from polaris.cli.failures import CommandFailed, safe_url
from polaris.config import Settings
from polaris.db.engine import make_engine
from polaris.storage import names
from polaris.storage.backend import Backend

#: Where the keys of a cluster can come from, for the lines that say what to give.
KEY_OPTIONS = (
    "--master-key-file PATH and --audit-key-file PATH outside the data directory (copy the "
    "files to every node), or POLARIS_MASTER_KEY and POLARIS_AUDIT_KEY"
)

_CONFIG_HEAD = """\
# Polaris instance settings. Any value can be overridden by a POLARIS_* environment variable,
# nested ones with '__' (POLARIS_SESSION__IDLE_MINUTES=15).
instance_name = "Polaris"
"""
_CONFIG_SESSION = """
[http]
host = "127.0.0.1"
port = 8080

[session]
idle_minutes = 30
absolute_hours = 12
# Browsers send Secure cookies to http://127.0.0.1 and localhost only; keep true behind TLS.
cookie_secure = true
"""


def is_postgresql(url: str) -> bool:
    return bool(url) and make_url(url).get_backend_name() == "postgresql"


def store_is_shared(settings: Settings) -> bool:
    """Whether other nodes can reach the blob store (it is not in the data directory)."""
    if settings.storage.backend != "local":
        return True
    data_dir = settings.data_dir.resolve()
    return not settings.resolved_blob_path.resolve().is_relative_to(data_dir)


def is_cluster(settings: Settings) -> bool:
    """A PostgreSQL database and a blob store outside the data directory: nodes can join."""
    return is_postgresql(settings.database_url) and store_is_shared(settings)


def check_key_sources(settings: Settings, *, join: bool) -> None:
    """Keys of a cluster come from outside the data directory; a joining node's must exist."""
    data_dir = settings.data_dir.resolve()
    files = (
        ("master key", settings.master_key, settings.resolved_master_key_file, "--master-key-file"),
        ("audit signing key", settings.audit_key, settings.resolved_audit_key_file,
         "--audit-key-file"),
    )  # fmt: skip
    for what, from_environment, path, option in files:
        if from_environment is not None:
            continue
        if join and not path.is_file():
            raise CommandFailed(
                f"the cluster's {what} is not at {path}: a joining node uses the keys the other "
                f"nodes have; give {option} PATH (a copy of their file) or the environment form "
                "(POLARIS_MASTER_KEY, POLARIS_AUDIT_KEY)"
            )
        if not join and path.resolve().is_relative_to(data_dir):
            raise CommandFailed(
                f"the {what} of a cluster must not live in the data directory, which holds only "
                f"settings and caches (every node needs the key, and a lost node must lose "
                f"nothing): give {KEY_OPTIONS}"
            )


def render_config(
    *,
    database_url: str,
    storage: Mapping[str, Any],
    master_key_file: Path | None,
    audit_key_file: Path | None,
    search_engine: str | None,
    redis_url: str | None,
) -> str:
    """``polaris.toml`` for a new node: the template, with what init was told."""
    lines = [_CONFIG_HEAD.rstrip("\n")]
    if database_url:
        lines.append(f"database_url = {_toml(database_url)}")
    else:
        lines.append(
            '# database_url = "postgresql+psycopg://polaris@db.example/polaris"'
            "   # default: SQLite in here"
        )
    if master_key_file is not None:
        lines.append(f"master_key_file = {_toml(str(master_key_file))}")
    if audit_key_file is not None:
        lines.append(f"audit_key_file = {_toml(str(audit_key_file))}")
    text = "\n".join(lines) + "\n" + _CONFIG_SESSION
    text += "\n" + _table("storage", {"backend": "local", **storage})
    if search_engine is not None:
        text += "\n" + _table("search", {"engine": search_engine})
    if redis_url:
        text += "\n" + _table("jobs", {"redis_url": redis_url})
    return text


def _table(name: str, values: Mapping[str, Any]) -> str:
    """One TOML table, its sub-tables after its own keys (TOML requires that order)."""
    plain = {k: v for k, v in values.items() if v is not None and not isinstance(v, Mapping)}
    nested = {k: v for k, v in values.items() if isinstance(v, Mapping)}
    text = f"[{name}]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in plain.items())
    for key, value in nested.items():
        text += "\n" + _table(f"{name}.{key}", value)
    return text


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # A JSON string is a valid TOML basic string: quotes and backslashes stay escaped.
    return json.dumps(str(value))


def require_no_instance_yet(settings: Settings, backend: Backend, *, where: str) -> None:
    """A new instance goes into an empty database and an empty store: never over another's."""
    if schema_revisions(settings.resolved_database_url):
        raise CommandFailed(
            f"the database {safe_url(settings.resolved_database_url)} already holds a Polaris "
            "instance; to add a node to it, run polaris init --join (with its keys); nothing "
            "was written"
        )
    if any(True for _ in backend.list(names.KEYS)):
        raise CommandFailed(
            f"the blob store at {where} already holds keys (another instance's?); give an empty "
            "store, or run polaris init --join to add a node to its instance; nothing was written"
        )


def require_an_instance(settings: Settings) -> None:
    """A joining node needs a database that a first node has made."""
    if not schema_revisions(settings.resolved_database_url):
        raise CommandFailed(
            f"the database {safe_url(settings.resolved_database_url)} holds no Polaris instance "
            "to join: make it with polaris init (without --join) on the first node"
        )


def schema_revisions(url: str) -> set[str]:
    """The Alembic revisions the database is at (empty: no Polaris schema)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
