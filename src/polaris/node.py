"""What a process checks before it acts as a node of its instance (serve, worker, any command).

At state scale several nodes share one database and one blob store, and each gets its keys from
files or the environment that an operator distributes. A node given the wrong key must not start:
with the wrong master key it could read nothing stored (every download would fail), and with the
wrong audit signing key its sealer would sign checkpoints that ``verify`` rejects. Each check
compares what this node holds with what the shared state was made with and, on a mismatch, raises
:class:`NodeRefused` with one line naming the key and both ids.

The search engine is checked here too: Tantivy keeps its index in the node's data directory, so
on a PostgreSQL database (the shape where several nodes run) another node would answer searches
from an index of its own that holds nothing.

Each check costs one small read (a listing of ``keys/``, one row of ``audit_checkpoint``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, inspect, select

from polaris.audit.keys import AuditSigner
from polaris.audit.models import AuditCheckpoint
from polaris.config import Settings
from polaris.storage import names
from polaris.storage.backend import Backend
from polaris.storage.keys import Keyring


class NodeRefused(Exception):
    """This node does not fit the instance it was pointed at; the message says why and what to
    do, in one line."""


def master_key_source(settings: Settings) -> str:
    """Where this node's master key comes from, for the line that names a mismatch."""
    if settings.master_key is not None:
        return "POLARIS_MASTER_KEY"
    return f"master_key_file {settings.resolved_master_key_file}"


def audit_key_source(settings: Settings) -> str:
    if settings.audit_key is not None:
        return "POLARIS_AUDIT_KEY"
    return f"audit_key_file {settings.resolved_audit_key_file}"


def store_location(settings: Settings) -> str:
    """The blob store as an operator names it (``--storage``), for messages."""
    s3 = settings.storage.s3
    if settings.storage.backend == "s3" and s3 is not None:
        where = f"s3://{s3.bucket}/{s3.prefix}".rstrip("/")
        return f"{where} at {s3.endpoint}" if s3.endpoint else where
    return str(settings.resolved_blob_path)


def check_search_engine(settings: Settings, engine: Engine) -> None:
    """Refuse a node-local index on a database other nodes may share, and the reverse."""
    dialect = engine.dialect.name
    chosen = settings.search.engine
    if dialect == "postgresql" and chosen == "tantivy":
        raise NodeRefused(
            "search.engine = 'tantivy' keeps the index in this node's data directory, which "
            "other nodes on the same PostgreSQL database do not see (they would answer from an "
            'empty index of their own); set search.engine = "postgresql" in polaris.toml (or '
            "POLARIS_SEARCH__ENGINE=postgresql), then run: polaris search reindex"
        )
    if dialect != "postgresql" and chosen == "postgresql":
        raise NodeRefused(
            f"search.engine = 'postgresql' needs a PostgreSQL database_url, not {dialect}; "
            'set search.engine = "tantivy" or give a PostgreSQL database'
        )


def check_master_key(backend: Backend, keyring: Keyring, *, source: str, store: str) -> None:
    """The store's keys must open with this keyring: the dedup key, and every data key.

    Compared by name alone (each wrapping is named by the master key it is sealed under), so a
    mismatch is found without a decryption; :class:`polaris.storage.keystore.KeyStore` then
    authenticates the wrappings as it loads them.
    """
    held = {key.key_id for key in keyring.keys}
    wrapped_dedup = _ids(names.parse_dedup_key_name(n) for n in backend.list(names.DEDUP_KEYS))
    if not wrapped_dedup:
        raise NodeRefused(
            f"no blob store at {store} (keys/dedup/ is empty): a new instance is made by "
            "polaris init, and a joining node must be given the cluster's store"
        )
    if not held & wrapped_dedup:
        raise NodeRefused(
            f"the master key does not match the blob store: this node holds master key "
            f"{_hex(held, keyring)} ({source}), the store at {store} is keyed with master key "
            f"{_hex(wrapped_dedup)}; give this node the cluster's master key"
        )
    wrapped_data: dict[int, set[bytes]] = {}
    for name in backend.list(names.DATA_KEYS):
        parsed = names.parse_data_key_name(name)
        if parsed is not None:
            wrapped_data.setdefault(parsed[0], set()).add(parsed[1])
    for data_key_id, masters in sorted(wrapped_data.items()):
        if not held & masters:
            raise NodeRefused(
                f"the master key cannot open data key {data_key_id} of the blob store: it is "
                f"wrapped under master key {_hex(masters)} only, this node holds "
                f"{_hex(held, keyring)} ({source}); give this node the cluster's current master "
                "key (a rotation not yet copied to this node?)"
            )


def check_audit_key(engine: Engine, signer: AuditSigner, *, source: str) -> None:
    """This node's audit signing key must be the key of the database's newest checkpoint.

    A database without checkpoints (a new instance) takes any key. A database whose schema is
    not there yet is left to the schema check (``polaris migrate`` says what to do).
    """
    table = AuditCheckpoint.__table__
    with engine.connect() as connection:
        if not inspect(connection).has_table(AuditCheckpoint.__tablename__):
            return
        newest = connection.execute(
            select(table.c.seq, table.c.key_id).order_by(table.c.seq.desc()).limit(1)
        ).first()
    if newest is not None and newest.key_id != signer.key_id:
        raise NodeRefused(
            f"the audit signing key does not match the database: this node's key is "
            f"{signer.key_id} ({source}), the newest checkpoint (seq {newest.seq}) is signed by "
            f"{newest.key_id}; give this node the cluster's audit signing key"
        )


def _ids(found: Iterable[bytes | None]) -> set[bytes]:
    return {key_id for key_id in found if key_id is not None}


def _hex(key_ids: set[bytes], keyring: Keyring | None = None) -> str:
    """Ids as hex, in the keyring's order (current first) when given, else sorted."""
    ordered = [k.key_id for k in keyring.keys] if keyring is not None else sorted(key_ids)
    return ", ".join(key_id.hex() for key_id in ordered if key_id in key_ids)
