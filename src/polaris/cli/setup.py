"""Commands that create, migrate, populate and serve an instance."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
from pathlib import Path
from typing import Any

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError

from polaris.audit.keys import create_key_file
from polaris.cli import demo as demo_org
from polaris.cli import node_setup
from polaris.cli.context import (
    DataDirOption,
    cli_context,
    console,
    instance_for,
    require_instance,
    settings_for,
    unit_of_work,
)
from polaris.cli.failures import CommandFailed, database_unreachable, safe_url
from polaris.config import CONFIG_FILE_NAME, SERVE_DATA_DIR_ENV, Settings, load_settings
from polaris.db.engine import make_engine
from polaris.db.migrate import alembic_config, upgrade
from polaris.identity import roles, units, users
from polaris.instance import load_keyring
from polaris.node import store_location
from polaris.storage.backend import Backend
from polaris.storage.backends import open_backend, storage_settings_from_url
from polaris.storage.keys import create_master_key_file
from polaris.storage.store import BlobStore


def init(
    data_dir_argument: Path | None = typer.Argument(
        None,
        metavar="DATA_DIR",
        help="Directory to create the instance in (or --data-dir; default: ./polaris-data).",
        show_default=False,
    ),
    data_dir: Path | None = DataDirOption,
    with_demo: bool = typer.Option(False, "--demo", help="Also create the demo organisation."),
    database_url: str = typer.Option("", help="PostgreSQL URL; default: SQLite in DATA_DIR."),
    storage: str = typer.Option(
        "",
        metavar="URL",
        help="Blob store: s3://bucket/prefix?endpoint=http://host:port or a directory "
        "(default: DATA_DIR/blobs).",
    ),
    master_key_file: Path | None = typer.Option(
        None, help="Master key file (made here unless --join; or POLARIS_MASTER_KEY)."
    ),
    audit_key_file: Path | None = typer.Option(
        None, help="Audit signing key file (made here unless --join; or POLARIS_AUDIT_KEY)."
    ),
    redis_url: str = typer.Option("", help="Redis that wakes the job workers of every node."),
    join: bool = typer.Option(
        False,
        "--join",
        help="Add a node to an existing instance (its database, store and keys): writes the "
        "settings only.",
    ),
    admin: str | None = typer.Option(
        None,
        "--admin",
        metavar="USERNAME",
        help="Create the top unit and this first administrator (one-off password printed once).",
    ),
    admin_name: str = typer.Option("Administrator", help="The first administrator's full name."),
    unit_code: str = typer.Option("HQ", help="Code of the top unit made with --admin."),
    unit_name: str = typer.Option("Headquarters", help="Name of the top unit made with --admin."),
) -> None:
    """Create an instance (config file, master key, audit key, blob store, database), or add a
    node to one (--join)."""
    # The database is reached before anything is written, and whatever a failed step had written
    # is removed again: running the same command after fixing the cause works.
    directory = _chosen_data_dir(data_dir_argument, data_dir)
    if admin is not None and with_demo:
        raise CommandFailed("--demo creates its own administrator; give --demo or --admin")
    if join and (admin is not None or with_demo):
        raise CommandFailed("--join adds a node to an instance that has its people already; "
                            "give --join without --admin and --demo")  # fmt: skip
    overrides = _init_settings(database_url, storage, master_key_file, audit_key_file)
    settings = load_settings(directory, **overrides)
    cluster = node_setup.is_cluster(settings)
    if join and not cluster:
        raise CommandFailed(
            "--join needs the instance's PostgreSQL database (--database-url) and its shared "
            "blob store (--storage, not inside the data directory)"
        )
    if cluster:
        node_setup.check_key_sources(settings, join=join)
    _refuse_an_existing_instance(settings, join=join)
    text = node_setup.render_config(
        database_url=database_url,
        storage=overrides.get("storage", {}),
        master_key_file=overrides.get("master_key_file"),
        audit_key_file=overrides.get("audit_key_file"),
        search_engine="postgresql" if node_setup.is_postgresql(database_url) else None,
        redis_url=redis_url or None,
    )
    written = WrittenFiles()
    try:
        written.make_directory(directory)
        os.chmod(directory, 0o700)
        _check_database(settings.resolved_database_url, written)
        if join:
            node_setup.require_an_instance(settings)
            written.write_text(directory / CONFIG_FILE_NAME, text)
            _join(directory)
        else:
            backend = _backend(settings, written)
            node_setup.require_no_instance_yet(settings, backend, where=store_location(settings))
            written.write_text(directory / CONFIG_FILE_NAME, text)
            _create_keys(settings, written)
            BlobStore.initialise(backend, load_keyring(settings))
            _migrate_and_seed(directory)
        if with_demo:
            demo(directory)
        first = None
        if admin is not None:
            first = _first_administrator(directory, admin, admin_name, unit_code, unit_name)
    except BaseException:
        written.remove()
        raise
    where = shlex.quote(str(directory))
    if join:
        console.print(
            f"joined the instance in {safe_url(settings.resolved_database_url)} and "
            f"{store_location(settings)} from {directory}",
            highlight=False,
            markup=False,
        )
        console.print(f"next: polaris serve --data-dir {where}", highlight=False, markup=False)
        return
    console.print(f"created Polaris instance in {directory}")
    if cluster:
        console.print(
            "keys: copy them to every node that joins (polaris init --join), and keep a copy "
            "offline; without the master key nothing stored can be read",
            highlight=False,
        )
    if first is not None:
        username, password = first
        console.print(
            f"top unit {unit_code} ({unit_name}); administrator {username}",
            highlight=False,
            markup=False,
        )
        console.print(
            f"one-off password: {password} (shown only now; a new password and MFA enrolment "
            "are asked at first sign-in)",
            highlight=False,
            markup=False,
        )
        console.print(f"next: polaris serve --data-dir {where}", highlight=False, markup=False)
    elif not with_demo:
        _print_next_steps(where)


def _init_settings(
    database_url: str, storage: str, master_key_file: Path | None, audit_key_file: Path | None
) -> dict[str, Any]:
    """The settings init was given, paths made absolute (the file is read from anywhere)."""
    overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
    if storage:
        overrides["storage"] = storage_overrides(storage)
    if master_key_file is not None:
        overrides["master_key_file"] = master_key_file.expanduser().absolute()
    if audit_key_file is not None:
        overrides["audit_key_file"] = audit_key_file.expanduser().absolute()
    return overrides


def storage_overrides(url: str) -> dict[str, Any]:
    """``[storage]`` settings for ``--storage`` (a directory, made absolute, or an S3 URL)."""
    try:
        chosen = storage_settings_from_url(url)
    except ValueError as error:
        raise CommandFailed(f"--storage: {error}; nothing was written") from error
    if chosen.path is not None:
        chosen.path = chosen.path.expanduser().absolute()
    return chosen.model_dump(exclude_unset=True, exclude_none=True)


def _backend(settings: Settings, written: WrittenFiles) -> Backend:
    if settings.storage.backend == "local":
        written.add(settings.resolved_blob_path)
    return open_backend(settings)


def _create_keys(settings: Settings, written: WrittenFiles) -> None:
    """The key files a new instance needs, unless its keys come from the environment."""
    if settings.master_key is None:
        written.add(settings.resolved_master_key_file)
        create_master_key_file(settings.resolved_master_key_file)
    if settings.audit_key is None:
        written.add(settings.resolved_audit_key_file)
        create_key_file(settings.resolved_audit_key_file)


def _join(directory: Path) -> None:
    """Open the instance as ``serve`` will: keys, store, search engine and schema must fit."""
    with instance_for(directory) as instance:
        _require_current_schema(instance.engine, directory)


def _chosen_data_dir(argument: Path | None, option: Path | None) -> Path:
    """``polaris init DIR`` and ``polaris init --data-dir DIR`` (or POLARIS_DATA_DIR) alike."""
    if argument is not None and option is not None and argument != option:
        raise CommandFailed(
            f"two data directories given: {argument} and {option} (--data-dir or "
            "POLARIS_DATA_DIR); give one"
        )
    return argument or option or settings_for(None).data_dir


def _refuse_an_existing_instance(settings: Settings, *, join: bool) -> None:
    config_file = settings.data_dir / CONFIG_FILE_NAME
    if config_file.exists():
        raise CommandFailed(f"{config_file} exists: {settings.data_dir} already holds an instance")
    data_dir = settings.data_dir.resolve()
    blobs = settings.resolved_blob_path
    key_files = [
        path
        for path, from_environment in (
            (settings.resolved_master_key_file, settings.master_key),
            (settings.resolved_audit_key_file, settings.audit_key),
        )
        if from_environment is None and path.exists()
    ]
    inside = [path for path in key_files if path.resolve().is_relative_to(data_dir)]
    if blobs.resolve().is_relative_to(data_dir) and blobs.is_dir() and any(blobs.iterdir()):
        inside.append(blobs)
    if inside:
        raise CommandFailed(
            f"{', '.join(map(str, inside))} exist but {config_file} does not (an instance "
            "left half-made by an older Polaris?); move them away, then run polaris init again"
        )
    if key_files and not join:
        raise CommandFailed(
            f"{', '.join(map(str, key_files))} exist: a new instance makes new keys and never "
            "replaces a key file; to add a node to the instance they belong to, run "
            "polaris init --join"
        )


def _check_database(url: str, written: WrittenFiles) -> None:
    """Connect once before anything is written: a wrong URL or a missing database stops here."""
    try:
        engine = make_engine(url)
    except (ArgumentError, ValueError) as error:
        raise CommandFailed(f"--database-url: {error}; nothing was written") from error
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database:
        for suffix in ("", "-wal", "-shm", "-journal", "-writer.lock"):
            written.add(Path(database + suffix))
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        raise CommandFailed(
            f"{database_unreachable(url, error)}; nothing was written: create the database or "
            "correct --database-url, then run polaris init again"
        ) from error
    finally:
        engine.dispose()


def _first_administrator(
    directory: Path, username: str, full_name: str, unit_code: str, unit_name: str
) -> tuple[str, str]:
    """The top unit and an administrator in it, whose generated password must be changed."""
    context = cli_context()
    with instance_for(directory) as instance, unit_of_work(instance) as session:
        units.create_unit(
            session=session,
            spec=units.UnitSpec(unit_code, unit_name, units.UnitKind.HQ, None),
            context=context,
        )
        created = users.create_user(
            session=session,
            spec=users.UserSpec(
                username=username, full_name=full_name, unit_code=unit_code, role="admin"
            ),
            passwords=instance.auth.passwords,
            context=context,
        )
    assert created.initial_password is not None  # generated: no password was given
    return created.user.username, created.initial_password


def _print_next_steps(where: str) -> None:
    console.print(
        "no unit and no administrator yet. Create the top unit and the first administrator "
        "(change the code, names and username as you need; the password is printed once):",
        highlight=False,
    )
    for command in (
        f"polaris units add HQ --name Headquarters --kind hq --data-dir {where}",
        f"polaris user add admin --name Administrator --unit HQ --role admin --data-dir {where}",
        f"polaris serve --data-dir {where}",
    ):
        console.print(f"  {command}", highlight=False, markup=False)


class WrittenFiles:
    """The files and directories init made, removed again (newest first) if a later step fails."""

    def __init__(self) -> None:
        self._paths: list[Path] = []

    def add(self, path: Path) -> None:
        """Note ``path``, about to be made, unless it is already there (then it is not ours)."""
        if not path.exists() and path not in self._paths:
            self._paths.append(path)

    def make_directory(self, path: Path) -> None:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        if missing:
            self.add(missing[-1])
        path.mkdir(parents=True, exist_ok=True)

    def write_text(self, path: Path, text: str) -> None:
        self.add(path)
        path.write_text(text, encoding="utf-8")

    def remove(self) -> None:
        for path in reversed(self._paths):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _migrate_and_seed(data_dir: Path | None) -> None:
    settings = settings_for(data_dir)
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        roles.ensure_default_roles(session)


def migrate(data_dir: Path | None = DataDirOption) -> None:
    """Bring the database schema up to date (safe to run again)."""
    _migrate_and_seed(data_dir)
    console.print("database is up to date")


def demo(data_dir: Path | None = DataDirOption) -> None:
    """Create the generated demo organisation and print the sign-in details."""
    organisation = demo_org.build()
    context = cli_context()
    with instance_for(data_dir) as instance, unit_of_work(instance) as session:
        passwords = demo_org.HashOnce(instance.auth.passwords)
        for spec in organisation.units:
            units.create_unit(session=session, spec=spec, context=context)
        for user_spec in organisation.users:
            users.create_user(session=session, spec=user_spec, passwords=passwords, context=context)
        logins = instance.settings.data_dir / "demo-logins.txt"
        logins.write_text(
            "".join(f"{u.username}\t{u.role}\t{u.unit_code}\n" for u in organisation.users)
            + f"\npassword for every demo user: {organisation.password}\n",
            encoding="utf-8",
        )
        os.chmod(logins, 0o600)
    console.print(
        f"demo organisation: {len(organisation.units)} units, {len(organisation.users)} users "
        f"(list in {logins})"
    )
    console.print(
        f"admin login: [bold]admin[/] / [bold]{organisation.password}[/]  "
        "(MFA enrolment is asked at first sign-in)"
    )


def serve(
    data_dir: Path | None = DataDirOption,
    host: str | None = typer.Option(None, help="Address to listen on (default from config)."),
    port: int | None = typer.Option(
        None, min=0, max=65535, help="Port (default from config; 0: any free port)."
    ),
    workers: int | None = typer.Option(
        None, min=1, max=64, help="Server processes (default from config: [http] workers)."
    ),
) -> None:
    """Serve the web app and API; prints the address it listens on once it does."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from polaris.app import create_app
    from polaris.chat.live import release_hub
    from polaris.cli.serving import ReleasingServer
    from polaris.instance import open_instance

    settings = settings_for(data_dir)
    require_instance(settings)
    # Keys, the database and the blob store are checked here, once, before any server process
    # starts (``open_instance``: a node whose keys are not the cluster's is refused).
    instance = open_instance(settings)
    _require_current_schema(instance.engine, settings.data_dir)
    processes = workers or settings.http.workers
    app: Any
    if processes > 1:
        # Each worker process builds its own instance from the data directory.
        instance.close()
        os.environ[SERVE_DATA_DIR_ENV] = str(settings.data_dir.resolve())
        app = "polaris.app:create_app_from_environment"
    else:
        app = create_app(instance, settle_heap=True)
    config = uvicorn.Config(
        app,
        factory=processes > 1,
        workers=processes,
        host=host or settings.http.host,
        port=settings.http.port if port is None else port,
        access_log=False,
        proxy_headers=bool(settings.http.trusted_proxies),
        forwarded_allow_ips=",".join(settings.http.trusted_proxies) or None,
    )
    listener = config.bind_socket()
    # Listening before the line is printed: a client that connects on reading it waits in the
    # backlog until the app has started, instead of being refused.
    listener.listen(config.backlog)
    console.print(f"Polaris serving on {_address(listener)} (API: /api/v1); stop with Ctrl-C")
    if processes > 1:
        Multiprocess(config, sockets=[listener]).run()
        return
    server = ReleasingServer(config, on_exit=lambda: release_hub(app.state))
    server.run(sockets=[listener])
    if not server.started:
        raise typer.Exit(3)  # the app did not start; uvicorn has logged why


def _require_current_schema(engine: Engine, data_dir: Path) -> None:
    """Refuse to serve a database whose schema is not the one this code was written for."""
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        at = ", ".join(sorted(current)) or "no revision"
        raise CommandFailed(
            f"the database schema is at {at}, this Polaris needs {', '.join(sorted(heads))}; "
            f"run: polaris migrate --data-dir {shlex.quote(str(data_dir))}"
        )


def _address(listener: socket.socket) -> str:
    """``http://host:port`` of the socket as bound (the real port when 0 was asked for)."""
    bound_host, bound_port = listener.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return f"http://{shown}:{bound_port}"
