"""Settings: one TOML file (``DATA_DIR/polaris.toml``) plus ``POLARIS_*`` environment overrides.

Environment variables win over the file; nested fields use ``__``
(``POLARIS_SESSION__IDLE_MINUTES``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_NAME = "polaris.toml"


#: ``Session.info`` key under which an instance's sessions carry its settings
#: (``polaris.instance.Instance``), for code that is handed only a session (a change-stream
#: consumer).
SESSION_SETTINGS_KEY = "polaris.settings"


def settings_of(session_info: dict[object, object]) -> Settings | None:
    """The settings an instance's session carries in its ``info`` (None for a bare session)."""
    found = session_info.get(SESSION_SETTINGS_KEY)
    return found if isinstance(found, Settings) else None


#: Tells the worker processes of ``polaris serve --workers N`` which instance to open.
SERVE_DATA_DIR_ENV = "POLARIS_SERVE_DATA_DIR"


class SessionSettings(BaseModel):
    idle_minutes: int = Field(default=30, ge=1)
    absolute_hours: int = Field(default=12, ge=1)
    cookie_secure: bool = True


class PasswordSettings(BaseModel):
    """argon2id parameters (DESIGN §8: at least m = 46 MiB, t = 1, p = 1)."""

    memory_kib: int = Field(default=47104, ge=19456)
    time_cost: int = Field(default=1, ge=1)
    parallelism: int = Field(default=1, ge=1)


class ThrottleSettings(BaseModel):
    """Sign-in backoff (``polaris.identity.throttle``): per address and account, per account,
    and, looser, per address alone (a whole station may share one NAT address)."""

    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 900.0
    free_failures: int = Field(default=3, ge=0)
    max_failures_per_hour: int = Field(default=100, ge=1, le=100)
    account_free_failures: int = Field(default=10, ge=0)
    source_free_failures: int = Field(default=30, ge=0)
    source_max_failures_per_hour: int = Field(default=1000, ge=1)
    tally_window_seconds: float = Field(default=300.0, gt=0)
    #: Starts of Nextcloud's login flow v2 from one address: free an hour, at most an hour.
    flow_free_per_hour: int = Field(default=60, ge=0)
    flow_max_per_hour: int = Field(default=600, ge=1)


class S3Settings(BaseModel):
    """An S3-compatible object store for the blobs (``polaris.storage.s3``, docs/storage-format.md
    §10a). Credentials left unset come from the usual AWS chain (``AWS_ACCESS_KEY_ID``, ...)."""

    #: ``http(s)://host:port`` of the store; unset means AWS S3 in ``region``.
    endpoint: str | None = None
    bucket: str = Field(min_length=3, max_length=63)
    #: Keys of this instance's objects start with ``prefix/`` (several instances, one bucket).
    prefix: str = ""
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    #: Plain-HTTP endpoints are refused unless this is set (a store on the same host or a
    #: private network; the objects are sealed, but the credentials sign every request).
    allow_http: bool = False
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    #: One request, a 4 MiB chunk's upload included.
    request_timeout_seconds: float = Field(default=120.0, gt=0)
    #: Retries of a request that failed on a connection error or a 5xx answer, and the time
    #: after which a failing request is given up (then StorageFailure: 503 to the client).
    max_retries: int = Field(default=3, ge=0, le=20)
    retry_timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("prefix")
    @classmethod
    def _plain_prefix(cls, value: str) -> str:
        value = value.strip("/")
        part = r"[A-Za-z0-9][A-Za-z0-9._-]*"
        if value and not re.fullmatch(rf"{part}(/{part})*", value):
            raise ValueError(
                "prefix: '/'-separated parts of letters, digits, '.', '_', '-', each starting "
                "with a letter or digit"
            )
        return value


class StorageSettings(BaseModel):
    backend: Literal["local", "s3"] = "local"
    #: The local backend's directory (default ``DATA_DIR/blobs``).
    path: Path | None = None
    s3: S3Settings | None = None
    chunk_size: int = Field(default=4 * 1024 * 1024, ge=1024, le=4 * 1024 * 1024)
    #: ``polaris storage gc`` never removes an object younger than this (days), referenced or
    #: not: it covers uploads whose rows are not committed yet (docs/storage-format.md §15).
    gc_grace_days: float = Field(default=7.0, ge=1.0)

    @model_validator(mode="after")
    def _s3_needs_its_settings(self) -> StorageSettings:
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("storage.backend is 's3' but [storage.s3] (bucket, ...) is not set")
        return self


class DriveSettings(BaseModel):
    """Limits of the drive. Quotas are per space; ``None`` means no limit."""

    max_file_bytes: int = Field(default=10 * 1024**3, ge=1)
    user_quota_bytes: int | None = Field(default=None, ge=0)
    unit_quota_bytes: int | None = Field(default=None, ge=0)
    upload_expiry_hours: float = Field(default=24.0, gt=0)


class DavSettings(BaseModel):
    """WebDAV (``polaris.dav``; docs/clients.md)."""

    enabled: bool = True
    #: Basic authentication sends the app password with every request, so WebDAV answers only
    #: over HTTPS (TLS at Polaris's proxy, listed in ``http.trusted_proxies``). True lets it
    #: answer over plain HTTP too: for tests and a machine's own loopback, never a network.
    allow_plain_http: bool = False
    #: PROPFIND of a drive folder or file answered from rows (``dav.fast_propfind``); off, by
    #: WsgiDAV's own handler (the same answers, several times the CPU). A switch for an incident
    #: and for ``bench/dav.py --propfind N --slow``.
    fast_propfind: bool = True
    #: Chunked uploads of the Nextcloud clients (``dav.upload_guards``): a user's uploads in
    #: progress (begun, not finished, abandoned or expired), and the bytes their chunks hold.
    #: Beyond either, 507 with a Problem body.
    max_uploads_in_progress: int = Field(default=20, ge=1)
    max_upload_bytes_in_progress: int = Field(default=20 * 1024**3, ge=1)


class JobSettings(BaseModel):
    """The background queue (``polaris.jobs``)."""

    #: Worker threads inside each server process. The embedded shape needs no other process;
    #: at scale set 0 and run ``polaris worker`` on machines of their own.
    in_process_workers: int = Field(default=1, ge=0, le=32)
    #: How long a claimed job is reserved for its worker; a worker that dies frees it after this.
    lease_seconds: float = Field(default=600.0, gt=0)
    #: How often an idle worker looks for due jobs (a job queued in the same process wakes it).
    poll_seconds: float = Field(default=2.0, gt=0)
    #: At scale: Redis (``redis://host:6379/0``) to wake workers on other nodes the moment a job
    #: is queued. The queue itself is always the database; without Redis, workers poll.
    redis_url: str | None = None
    #: How long the background workers let the first job of a batched kind (the search index's)
    #: wait for company while fewer than a batch are queued: one commit of the index for what
    #: arrives in that time, not one a file (a commit of one document cost 6 to 8 ms of CPU,
    #: of ten 0.8 ms a document). A new document is searchable this much later. 0: at once.
    gather_seconds: float = Field(default=0.5, ge=0.0, le=60.0)


class EventSettings(BaseModel):
    """The change stream (``polaris.events``)."""

    #: Events older than this, once every consumer has read them, are removed. A sync client
    #: further behind than this must list its folders again (the changes feed says so).
    retention_days: float = Field(default=30.0, ge=1.0)


class SearchSettings(BaseModel):
    """The full-text index (``polaris.search``): Tantivy in ``path`` (default ``DATA_DIR/search``)
    on the embedded shape; ``postgresql`` (needs a PostgreSQL database) at state scale.

    ``polaris init`` writes ``postgresql`` when it is given a PostgreSQL database, and a node
    refuses to start on a PostgreSQL database with Tantivy (``polaris.node``): Tantivy's index
    lives in one node's data directory, and another node on the same database would answer from
    an index of its own that holds nothing (docs/scale.md).
    """

    engine: Literal["tantivy", "postgresql"] = "tantivy"
    path: Path | None = None
    #: Memory of one Tantivy writer while it indexes a batch.
    writer_heap_mib: int = Field(default=64, ge=16, le=4096)


class OcrSettings(BaseModel):
    """Text extraction and OCR of scans (``polaris.ingest.extract``, docs/ingest.md)."""

    #: Tesseract languages, ``+``-joined, in the order Tesseract tries them. ``eng+hin`` reads the
    #: digits of FIR numbers and dates exactly where ``hin+eng`` drops leading 1s (docs/ingest.md).
    languages: str = Field(default="eng+hin", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
    #: Pages of one document read side by side; job workers already run documents in parallel.
    jobs: int = Field(default=1, ge=1, le=32)
    #: A document's OCR is stopped after this long (its job fails with the reason).
    timeout_seconds: float = Field(default=1800.0, gt=0)
    #: Scans with more pages than this are refused rather than hold a worker for hours.
    max_pages: int = Field(default=500, ge=1)
    #: Memory (address space) of the process that reads one file's text layer or markup; a
    #: decompression bomb fails its job here instead of taking the server's memory.
    extract_memory_mb: int = Field(default=1536, ge=256)
    #: Reading one file's text layer or markup is stopped after this long.
    extract_timeout_seconds: float = Field(default=300.0, gt=0)


class ScanSettings(BaseModel):
    """Malware scanning of new file content by ClamAV's daemon (``polaris.drive.scanning``,
    docs/resilience.md "Malware scanning").

    ``enabled`` left unset means "scan when a clamd address is configured": a new instance with
    nothing else installed keeps working (nothing is scanned, nothing is held); naming ``clamd``
    turns scanning on. ``enabled = true`` without a reachable clamd applies ``when_unavailable``.
    """

    enabled: bool | None = None
    #: clamd's ``LocalSocket`` (a path starting with ``/``) or its TCP ``host:port``.
    clamd: str | None = None
    #: While clamd cannot answer: ``hold`` (new files wait for the scan, retried with backoff)
    #: or ``pass`` (they are served, and the missing scan is recorded as a warning).
    when_unavailable: Literal["hold", "pass"] = "hold"
    #: At most this many bytes of a file are sent; keep it at or below clamd's
    #: ``StreamMaxLength``. A larger file is judged on its first ``max_bytes`` (docs/resilience.md).
    max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    timeout_seconds: float = Field(default=120.0, gt=0)
    #: Attempts while clamd is unavailable (``hold``), with the job queue's backoff between them;
    #: after the last the file stays held in state ``error`` for an administrator.
    max_attempts: int = Field(default=12, ge=1, le=100)

    @property
    def active(self) -> bool:
        return self.enabled if self.enabled is not None else self.clamd is not None


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    #: Server processes. Python runs one request at a time per process for CPU-bound work, so on
    #: a machine with several cores more processes serve more requests; they share the database
    #: and blob store like the nodes of a cluster.
    workers: int = Field(default=1, ge=1, le=64)
    max_json_bytes: int = 1024 * 1024
    trusted_proxies: list[str] = []


class MatrixSettings(BaseModel):
    """The Matrix client-server API (``polaris.matrix``, docs/matrix.md)."""

    #: The server name in user ids (``@hc.a1:<server_name>``) and media URIs. Set it before
    #: the first Matrix login and never change it; unset, the request's ``Host`` is used (for
    #: tests and trials on one address).
    server_name: str | None = Field(default=None, min_length=1, max_length=255)
    #: The URL clients reach Polaris at, told by ``/.well-known/matrix/client``; unset, the
    #: request's own scheme and host.
    public_base_url: str | None = None
    #: The largest media upload (chat attachments), at most the drive's own ``max_file_bytes``.
    max_upload_bytes: int = Field(default=100 * 1024**2, ge=1)
    #: How long a login token minted by a signed-in browser (``m.login.token``) may be used.
    login_token_seconds: int = Field(default=120, ge=10, le=600)


class LogSettings(BaseModel):
    """Where the JSON log lines go (``polaris.web.logs``, docs/operations.md "Logs")."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    #: The directory of the day files (default ``DATA_DIR/logs``).
    path: Path | None = None
    #: Day files older than this are deleted; at least 180 (CERT-In). Unset: never deleted.
    retention_days: int | None = Field(default=180, ge=180)
    #: A SIEM's syslog receiver (RFC 5424); unset: no shipping.
    syslog_host: str | None = None
    syslog_port: int = Field(default=514, ge=1, le=65535)
    syslog_protocol: Literal["udp", "tcp"] = "udp"
    syslog_app_name: str = Field(default="polaris", min_length=1, max_length=48)


class BackupSettings(BaseModel):
    """Continuous backups to a second target (``polaris.backup``; docs/resilience.md "Backups
    and restore"). ``polaris backup run`` replicates the blob store's objects (create-only) and
    runs Litestream for the SQLite database, pgBackRest for PostgreSQL."""

    #: A directory (another disk, a mount from another site) or
    #: ``s3://bucket[/prefix][?endpoint=&region=&allow_http=]``; unset: no backups.
    target: str | None = None
    #: The S3 target's credentials (never in the URL); unset: the AWS chain.
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    #: Litestream ships new WAL frames this often (at most a second: the database's RPO).
    sync_interval_seconds: float = Field(default=1.0, gt=0, le=1.0)
    #: Litestream writes a full snapshot this often (restores replay WAL from the newest one).
    snapshot_interval_hours: float = Field(default=24.0, gt=0)
    #: Litestream keeps snapshots and WAL this long: the window of a point-in-time restore.
    retention_days: float = Field(default=7.0, gt=0)
    #: The blob replicator looks for new objects this often.
    blob_interval_seconds: float = Field(default=5.0, gt=0)
    #: A pass that compares the whole target listing with the store's, this often.
    full_pass_hours: float = Field(default=6.0, gt=0)
    #: Incremental passes look again at objects this much older than the last pass (an object
    #: becomes visible a little after its modification time; an S3 store's clock may differ).
    overlap_seconds: float = Field(default=600.0, ge=0)
    #: ``polaris backup status`` calls a part lagging more than this behind.
    max_lag_seconds: float = Field(default=60.0, gt=0)
    #: On an S3 target, every object the backup writes is locked (S3 object lock, COMPLIANCE
    #: mode) this many days, and ``polaris backup init-target`` makes it the bucket's default
    #: retention: nobody, the target's owner included, can delete or overwrite a backed-up
    #: version before then. 30: longer than the usual time ransomware sits unnoticed, and than
    #: ``retention_days`` (Litestream's deleted files stay until their lock ends).
    lock_days: int = Field(default=30, ge=1, le=36500)
    # PostgreSQL only (pgBackRest, ``polaris.backup.pgbackrest``; docs/resilience.md).
    #: pgBackRest's name for the cluster's backups (one per cluster and repository).
    pg_stanza: str = Field(default="polaris", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    #: The server's data directory; unset: asked from the server (``SHOW data_directory``, which
    #: needs a superuser or pg_read_all_settings). pgBackRest reads it: run ``backup run`` on the
    #: database's machine.
    pg_data_dir: Path | None = None
    #: The directory of the server's Unix socket (pgBackRest connects only through one); unset:
    #: the URL's ``host`` when it is a directory, else /var/run/postgresql.
    pg_socket_dir: Path | None = None
    #: Run pgbackrest as this OS user (the server's, usually ``postgres``) when Polaris runs as
    #: root; unset: as Polaris's own user.
    pg_os_user: str | None = None
    #: Where pgbackrest.conf is written. The server's archive_command reads it, so the server's
    #: OS user must be able to; unset: ``DATA_DIR/backup/pgbackrest.conf``.
    pg_config_file: Path | None = None
    #: The server switches to a new WAL segment (and archives it) at least this often while it
    #: writes: with the archiving's own delay, the database part's lag stays under 60 s.
    pg_archive_timeout_seconds: int = Field(default=30, ge=1, le=60)
    #: A full backup this often, a differential one in between (restores replay WAL from them).
    pg_full_every_days: float = Field(default=7.0, gt=0)
    pg_diff_every_hours: float = Field(default=24.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="POLARIS_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path("polaris-data")
    database_url: str = ""
    master_key_file: Path | None = None
    audit_key_file: Path | None = None
    # Master key(s) as base64 (comma-separated, first current) instead of the key file.
    master_key: SecretStr | None = None
    # The audit signing key (Ed25519) instead of the key file: base64 of its 32 private bytes
    # (``head -c 32 /dev/urandom | base64`` makes one), or its PEM text.
    audit_key: SecretStr | None = None
    # The server seals the audit log when this many records wait, and at least every
    # audit_seal_seconds; verify fails on records older than seconds + grace left uncovered.
    audit_checkpoint_interval: int = Field(default=1000, ge=1)
    audit_seal_seconds: float = Field(default=300.0, gt=0)
    audit_seal_grace_seconds: float = Field(default=300.0, ge=0)
    # Each new checkpoint is appended here as a JSON line (best on another disk or machine).
    audit_anchor_file: Path | None = None
    instance_name: str = "Polaris"
    #: The zone every time on a page is shown in, with its name ("6 Dec 2026, 11:52 IST";
    #: ``polaris.web.times``): an IANA zone name.
    time_zone: str = "Asia/Kolkata"
    session: SessionSettings = SessionSettings()
    password: PasswordSettings = PasswordSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    drive: DriveSettings = DriveSettings()
    dav: DavSettings = DavSettings()
    jobs: JobSettings = JobSettings()
    events: EventSettings = EventSettings()
    ocr: OcrSettings = OcrSettings()
    search: SearchSettings = SearchSettings()
    scan: ScanSettings = ScanSettings()
    logs: LogSettings = LogSettings()
    matrix: MatrixSettings = MatrixSettings()
    backup: BackupSettings = BackupSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _config_file_path(init_settings)
        if toml_path is not None and toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"time_zone: unknown zone {value!r} (an IANA name)") from error
        return value

    # Derived paths: everything lives under data_dir unless set explicitly.
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'polaris.db'}"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.data_dir / "audit-signing.key"

    @property
    def audit_max_unsealed_age(self) -> dt.timedelta:
        """How old a record may be before ``verify`` requires a checkpoint over it."""
        return dt.timedelta(seconds=self.audit_seal_seconds + self.audit_seal_grace_seconds)

    @property
    def resolved_blob_path(self) -> Path:
        return self.storage.path or self.data_dir / "blobs"

    @property
    def resolved_log_path(self) -> Path:
        return self.logs.path or self.data_dir / "logs"


def _config_file_path(init_settings: PydanticBaseSettingsSource) -> Path | None:
    init_values = init_settings()
    data_dir = init_values.get("data_dir") or os.environ.get("POLARIS_DATA_DIR")
    if data_dir is None:
        return None
    return Path(data_dir) / CONFIG_FILE_NAME


def load_settings(data_dir: Path | str | None = None, **overrides: object) -> Settings:
    """Settings for the instance in ``data_dir`` (or ``$POLARIS_DATA_DIR``)."""
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    return Settings(**overrides)  # type: ignore[arg-type]
