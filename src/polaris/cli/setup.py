"""Commands that create, migrate, populate and serve an instance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from polaris.audit.keys import create_key_file
from polaris.cli import demo as demo_org
from polaris.cli.context import (
    DataDirOption,
    cli_context,
    console,
    fail,
    instance_for,
    settings_for,
    unit_of_work,
)
from polaris.config import CONFIG_FILE_NAME, SERVE_DATA_DIR_ENV
from polaris.db.engine import make_engine
from polaris.db.migrate import upgrade
from polaris.identity import roles, units, users
from polaris.storage.keys import create_master_key_file
from polaris.storage.local import LocalBackend
from polaris.storage.store import BlobStore

CONFIG_TEMPLATE = """\
# Polaris instance settings. Any value can be overridden by a POLARIS_* environment variable,
# nested ones with '__' (POLARIS_SESSION__IDLE_MINUTES=15).
instance_name = "Polaris"
# database_url = "postgresql+psycopg://polaris@db.example/polaris"   # default: SQLite in here

[http]
host = "127.0.0.1"
port = 8080

[session]
idle_minutes = 30
absolute_hours = 12
# Browsers send Secure cookies to http://127.0.0.1 and localhost only; keep true behind TLS.
cookie_secure = {cookie_secure}

[storage]
backend = "local"
"""


def init(
    data_dir: Path = typer.Argument(..., help="Directory to create the instance in."),
    with_demo: bool = typer.Option(False, "--demo", help="Also create the demo organisation."),
    database_url: str = typer.Option("", help="PostgreSQL URL; default: SQLite in DATA_DIR."),
) -> None:
    """Create an instance: config file, master key (mode 0600), audit key, database."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    config_file = data_dir / CONFIG_FILE_NAME
    if config_file.exists():
        fail(f"{config_file} exists: {data_dir} already holds an instance")
    text = CONFIG_TEMPLATE.format(cookie_secure="true")
    if database_url:
        text = text.replace("# database_url", f'database_url = "{database_url}"\n# database_url', 1)
    config_file.write_text(text, encoding="utf-8")
    settings = settings_for(data_dir)
    create_master_key_file(settings.resolved_master_key_file)
    create_key_file(settings.resolved_audit_key_file)
    BlobStore.initialise(
        LocalBackend(settings.resolved_blob_path),
        _master(settings.resolved_master_key_file),
    )
    _migrate_and_seed(data_dir)
    console.print(f"created Polaris instance in {data_dir}")
    if with_demo:
        demo(data_dir)


def _master(path: Path):  # type: ignore[no-untyped-def]
    from polaris.storage.keys import load_master_key_file

    return load_master_key_file(path)


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
    port: int | None = typer.Option(None, help="Port (default from config)."),
    workers: int | None = typer.Option(
        None, min=1, max=64, help="Server processes (default from config: [http] workers)."
    ),
) -> None:
    """Serve the web app and API."""
    import uvicorn

    from polaris.app import create_app
    from polaris.instance import open_instance

    settings = settings_for(data_dir)
    if not settings.resolved_master_key_file.exists():
        fail(f"no Polaris instance in {settings.data_dir}")
    processes = workers or settings.http.workers
    app: Any
    if processes > 1:
        # Each worker process builds its own instance from the data directory.
        os.environ[SERVE_DATA_DIR_ENV] = str(settings.data_dir.resolve())
        app = "polaris.app:create_app_from_environment"
    else:
        app = create_app(open_instance(settings))
    uvicorn.run(
        app,
        factory=processes > 1,
        workers=processes,
        host=host or settings.http.host,
        port=port or settings.http.port,
        access_log=False,
        proxy_headers=bool(settings.http.trusted_proxies),
        forwarded_allow_ips=",".join(settings.http.trusted_proxies) or None,
    )
