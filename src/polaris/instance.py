"""One running Polaris instance: settings, database, keys, blob store, and what services need.

Built once per process (web server, worker, CLI command) by :func:`open_instance`; request handlers
reach it through ``app.state``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from polaris import node
from polaris.audit.keys import AuditSigner, load_key_file, signer_from_text
from polaris.config import SESSION_SETTINGS_KEY, Settings
from polaris.db.engine import make_engine, make_read_session_factory, make_session_factory
from polaris.db.group_commit import GroupCommit
from polaris.identity.auth import AuthConfig
from polaris.identity.passwords import Argon2Parameters, Passwords
from polaris.identity.throttle import ThrottlePolicy
from polaris.search.interface import SearchEngine
from polaris.storage.backends import open_backend
from polaris.storage.keys import Keyring, load_master_key_file
from polaris.storage.store import SESSION_INFO_KEY, BlobStore


@dataclass
class Instance:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    auth: AuthConfig
    csrf_key: bytes
    audit_signer: AuditSigner
    blobs: BlobStore
    #: The full-text index, opened on first use (``polaris.search.indexing.engine_of``).
    search: SearchEngine | None = None
    #: The messenger's message index, the same engine over another table or directory
    #: (``polaris.search.messages.message_engine_of``).
    message_search: SearchEngine | None = None
    #: Audit records that stand alone (a download's ``file.read``), committed together.
    audit_commits: GroupCommit = field(init=False)
    #: The write transactions of uploads, committed together. Not the same group as
    #: ``audit_commits``: why, in ``polaris.db.group_commit``.
    upload_commits: GroupCommit = field(init=False)
    #: The write transactions of messages sent (the Matrix API's sends), committed together.
    message_commits: GroupCommit = field(init=False)

    def __post_init__(self) -> None:
        self.audit_commits = GroupCommit(self.sessions)
        self.upload_commits = GroupCommit(self.sessions)
        self.message_commits = GroupCommit(self.sessions)
        # A change-stream consumer gets only a session: its sessions carry the settings
        # (``config.settings_of``, for the malware scan) and the blob store (the ransomware guard
        # samples content through it: ``storage.store.blobs_of``).
        self.sessions.configure(
            info={SESSION_SETTINGS_KEY: self.settings, SESSION_INFO_KEY: self.blobs}
        )

    def close(self) -> None:
        self.engine.dispose()


def auth_config(settings: Settings, mfa_key: bytes) -> AuthConfig:
    return AuthConfig(
        passwords=Passwords(
            Argon2Parameters(
                memory_kib=settings.password.memory_kib,
                time_cost=settings.password.time_cost,
                parallelism=settings.password.parallelism,
            )
        ),
        throttle=ThrottlePolicy(**settings.throttle.model_dump()),
        idle_timeout=dt.timedelta(minutes=settings.session.idle_minutes),
        absolute_timeout=dt.timedelta(hours=settings.session.absolute_hours),
        mfa_key=mfa_key,
        issuer=settings.instance_name,
    )


def load_keyring(settings: Settings) -> Keyring:
    """From ``POLARIS_MASTER_KEY`` when set (e.g. injected by a secrets manager), else the file."""
    if settings.master_key is not None:
        return Keyring.from_base64(settings.master_key.get_secret_value())
    return load_master_key_file(settings.resolved_master_key_file)


def load_audit_signer(settings: Settings) -> AuditSigner:
    """From ``POLARIS_AUDIT_KEY`` when set, else the audit key file."""
    if settings.audit_key is not None:
        return signer_from_text(settings.audit_key.get_secret_value())
    return load_key_file(settings.resolved_audit_key_file)


def open_instance(settings: Settings) -> Instance:
    """Open the instance described by ``settings``, refusing a node that does not fit it.

    Before anything is served (``polaris.node``): the master key must open the blob store's keys,
    the audit signing key must be the one the database's checkpoints are signed with, and the
    search engine must suit the database.

    Secrets for MFA and CSRF are derived from the blob store's key material, which survives a
    rotation of the master key (a key taken straight from the master key file would not, and every
    officer's second factor would stop working at the first rotation).
    """
    keyring = load_keyring(settings)
    signer = load_audit_signer(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        node.check_search_engine(settings, engine)
        backend = open_backend(settings)
        node.check_master_key(
            backend,
            keyring,
            source=node.master_key_source(settings),
            store=node.store_location(settings),
        )
        blobs = BlobStore.open(backend, keyring, chunk_size=settings.storage.chunk_size)
        node.check_audit_key(engine, signer, source=node.audit_key_source(settings))
    except BaseException:
        engine.dispose()
        raise
    return Instance(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_read_session_factory(engine),
        auth=auth_config(settings, blobs.keys.derive_secret("mfa secrets")),
        csrf_key=blobs.keys.derive_secret("csrf"),
        audit_signer=signer,
        blobs=blobs,
    )
