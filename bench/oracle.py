"""Forbidden vs missing: does the time of a 404 tell a hidden id from an id of nothing?

Run by hand (never in CI), from the repository root:

    .venv/bin/python bench/oracle.py                        # SQLite, 300 rounds
    .venv/bin/python bench/oracle.py --db both --rounds 500 # and PostgreSQL on 127.0.0.1:5432

It builds a throwaway instance (a temporary directory; on PostgreSQL a schema of its own in the
database ``test``, dropped at the end), two stations and two head constables. The owner, in
station B, makes a folder, a file, a share and a tus upload; the prober, in station A, asks for
each of them and for an id that does not exist, through the real app (in process, so the network
adds no noise). Each round sends the two requests of an endpoint in a random order; the report
gives per endpoint the median time of each and the difference (hidden − missing), the target
being under 0.2 ms. Progress goes to stderr, the Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import logging
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from polaris.app import create_app
from polaris.audit.context import AuditContext
from polaris.audit.keys import AuditSigner
from polaris.config import load_settings
from polaris.db.engine import make_engine, make_read_session_factory, make_session_factory
from polaris.db.migrate import upgrade
from polaris.drive._locate import locate
from polaris.identity import program_tokens, roles, units, users
from polaris.identity.auth import AuthConfig
from polaris.identity.passwords import Argon2Parameters, Passwords
from polaris.identity.throttle import ThrottlePolicy
from polaris.identity.units import UnitKind, UnitSpec
from polaris.instance import Instance
from polaris.storage.keys import create_master_key_file
from polaris.storage.local import LocalBackend
from polaris.storage.store import BlobStore

API = "/api/v1"
TUS = {"Tus-Resumable": "1.0.0"}
PASSWORD = "oracle bench password 1"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SYSTEM = AuditContext.system("bench")
TARGET_MS = 0.2


@dataclass(frozen=True)
class Probe:
    name: str
    method: str
    hidden_url: str
    missing_url: str
    body: dict[str, Any]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def database(kind: str, directory: Path, pg_url: str) -> Iterator[Engine]:
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'oracle.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    schema = f"oracle_{os.getpid()}"
    admin = make_engine(pg_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in pg_url else "?"
    engine = make_engine(f"{pg_url}{separator}options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def build_instance(engine: Engine, directory: Path) -> Instance:
    keyring = create_master_key_file(directory / "master.key")
    passwords = Passwords(Argon2Parameters(memory_kib=1024, time_cost=1, parallelism=1))
    return Instance(
        settings=load_settings(directory),
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_read_session_factory(engine),
        auth=AuthConfig(
            passwords=passwords,
            throttle=ThrottlePolicy(),
            idle_timeout=dt.timedelta(minutes=30),
            absolute_timeout=dt.timedelta(hours=12),
            mfa_key=b"k" * 32,
            issuer="oracle bench",
        ),
        csrf_key=b"c" * 32,
        audit_signer=AuditSigner.generate(),
        blobs=BlobStore.initialise(LocalBackend(directory / "blobs"), keyring),
    )


def seed(instance: Instance) -> dict[str, str]:
    """Two stations under one HQ, a head constable in each; their API tokens."""
    session = instance.sessions()
    roles.ensure_default_roles(session)
    units.create_unit(session=session, spec=UnitSpec("HQ", "HQ", UnitKind.HQ, None), context=SYSTEM)
    tokens = {}
    for code, username in (("PS-A", "hc.a"), ("PS-B", "hc.b")):
        spec = UnitSpec(code, f"Station {code}", UnitKind.STATION, "HQ")
        units.create_unit(session=session, spec=spec, context=SYSTEM)
        user = users.create_user(
            session=session,
            spec=users.UserSpec(
                username=username,
                full_name=username,
                unit_code=code,
                role="head_constable",
                clearance=None,
                password=PASSWORD,
            ),
            passwords=instance.auth.passwords,
            context=SYSTEM,
        ).user
        issued = program_tokens.create_token(
            session=session,
            user=user,
            name="bench",
            scopes=["all"],
            lifetime_days=1,
            context=SYSTEM,
        )
        tokens[username] = issued.secret
    session.commit()
    session.close()
    return tokens


def _ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response


def hidden_things(client: TestClient, owner: dict[str, str]) -> dict[str, Any]:
    spaces = _ok(client.get(f"{API}/spaces", headers=owner)).json()
    own = next(s for s in spaces if s["kind"] == "user")
    folder = _ok(
        client.post(f"{API}/nodes/{own['root_id']}/folders", headers=owner, json={"name": "B"})
    ).json()
    file = _ok(
        client.post(
            f"{API}/files",
            headers=owner,
            params={"parent_id": folder["id"], "name": "b.txt"},
            content=b"station B only",
        )
    ).json()
    # A share the prober may not touch (to its owner: any share of station B would do).
    share = _ok(
        client.post(
            f"{API}/nodes/{file['id']}/shares",
            headers=owner,
            json={"subject_type": "user", "subject_id": own["owner_id"]},
        )
    ).json()
    meta = ",".join(
        f"{key} {base64.b64encode(str(value).encode()).decode()}"
        for key, value in (("filename", "big.bin"), ("parent_id", folder["id"]))
    )
    upload = _ok(
        client.post(
            f"{API}/uploads",
            headers={**owner, **TUS, "Upload-Length": "10", "Upload-Metadata": meta},
        )
    )
    return {
        "folder": folder["id"],
        "file": file["id"],
        "space": own["id"],
        "share": share["id"],
        "upload": upload.headers["location"].rsplit("/", 1)[1],
    }


def probes(things: dict[str, Any]) -> list[Probe]:
    missing = 10_000_000
    folder, file = things["folder"], things["file"]
    node = [
        ("GET /nodes/{id}", "GET", "/nodes/{}", {}),
        ("GET /nodes/{id}/children", "GET", "/nodes/{}/children", {}),
        ("POST /nodes/{id}/folders", "POST", "/nodes/{}/folders", {"json": {"name": "x"}}),
        ("PATCH /nodes/{id}", "PATCH", "/nodes/{}", {"json": {"name": "x"}}),
        ("DELETE /nodes/{id}", "DELETE", "/nodes/{}", {}),
        ("GET /nodes/{id}/shares", "GET", "/nodes/{}/shares", {}),
    ]
    files = [
        ("GET /files/{id}/content", "GET", "/files/{}/content", {}),
        ("GET /files/{id}/versions", "GET", "/files/{}/versions", {}),
    ]
    result = [
        Probe(name, method, API + url.format(folder), API + url.format(missing), body)
        for name, method, url, body in node
    ]
    result += [
        Probe(name, method, API + url.format(file), API + url.format(missing), body)
        for name, method, url, body in files
    ]
    result += [
        Probe(
            "DELETE /shares/{id}",
            "DELETE",
            f"{API}/shares/{things['share']}",
            f"{API}/shares/{missing}",
            {},
        ),
        Probe(
            "GET /spaces/{id}",
            "GET",
            f"{API}/spaces/{things['space']}",
            f"{API}/spaces/{missing}",
            {},
        ),
        Probe(
            "HEAD /uploads/{id}",
            "HEAD",
            f"{API}/uploads/{things['upload']}",
            f"{API}/uploads/{'m' * len(things['upload'])}",
            {"headers": TUS},
        ),
        Probe("page /drive/{id}", "GET", f"/drive/{folder}", f"/drive/{missing}", {"page": True}),
        Probe(
            "page /drive/file/{id}",
            "GET",
            f"/drive/file/{file}",
            f"/drive/file/{missing}",
            {"page": True},
        ),
    ]
    return result


def sign_in(client: TestClient, username: str) -> None:
    login = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert found, "no CSRF field on the sign-in page"
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": found.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def measure(
    client: TestClient, token: dict[str, str], probe: Probe, rounds: int, warmup: int
) -> tuple[float, float, float]:
    """Median milliseconds of the hidden and of the missing request, and the median of the
    difference within each round (less moved by the load of the machine)."""
    body = dict(probe.body)
    page = body.pop("page", False)
    headers = {} if page else dict(token)
    headers.update(body.pop("headers", {}))
    times: dict[str, list[float]] = {"hidden": [], "missing": []}
    order = [("hidden", probe.hidden_url), ("missing", probe.missing_url)]
    for index in range(warmup + rounds):
        random.shuffle(order)
        for label, url in order:
            start = time.perf_counter()
            answer = client.request(probe.method, url, headers=headers, **body)
            elapsed = time.perf_counter() - start
            assert answer.status_code == 404, (probe.name, label, answer.status_code)
            if index >= warmup:
                times[label].append(elapsed * 1000)
    paired = [h - m for h, m in zip(times["hidden"], times["missing"], strict=True)]
    return (
        statistics.median(times["hidden"]),
        statistics.median(times["missing"]),
        statistics.median(paired),
    )


Row = tuple[str, float, float, float]


def run(kind: str, rounds: int, warmup: int, pg_url: str) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="polaris-oracle-") as tmp:
        directory = Path(tmp)
        with database(kind, directory, pg_url) as engine:
            instance = build_instance(engine, directory)
            tokens = seed(instance)
            app = create_app(instance, seal_periodically=False, run_jobs=False)
            logging.disable(logging.INFO)  # the access log would cost more than what is measured
            with TestClient(app, base_url="https://testserver") as client:
                auth = {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}
                things = hidden_things(client, auth["hc.b"])
                sign_in(client, "hc.a")
                rows = []
                for probe in probes(things):
                    _log(f"{kind}: {probe.name}")
                    rows.append((probe.name, *measure(client, auth["hc.a"], probe, rounds, warmup)))
            rows.append(("locate() alone, in process", *lookup_only(instance, things, rounds)))
            instance.close()
    return rows


def lookup_only(instance: Instance, things: dict[str, Any], rounds: int) -> tuple[float, ...]:
    """The node lookup by itself (``drive._locate.locate``, a fresh identity map each time):
    the part of the work that still depends on whether the row exists."""
    session = instance.sessions()
    times: dict[str, list[float]] = {"hidden": [], "missing": []}
    try:
        for _ in range(rounds * 10):
            for label, node_id in (("hidden", things["file"]), ("missing", 10_000_000)):
                session.expunge_all()
                start = time.perf_counter()
                locate(session, node_id)
                times[label].append((time.perf_counter() - start) * 1000)
            session.rollback()
    finally:
        session.close()
    paired = [h - m for h, m in zip(times["hidden"], times["missing"], strict=True)]
    return (
        statistics.median(times["hidden"]),
        statistics.median(times["missing"]),
        statistics.median(paired),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--pg-url", default=os.environ.get("POLARIS_TEST_PG_URL", DEFAULT_PG))
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    print(
        f"Forbidden vs missing, median of {args.rounds} rounds (after {args.warmup} warm-up), "
        f"in process; Python {platform.python_version()}, {os.cpu_count()} CPUs\n"
    )
    print("| database | endpoint | hidden ms | missing ms | difference ms | paired ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for kind in kinds:
        for name, hidden, missing, paired in run(kind, args.rounds, args.warmup, args.pg_url):
            worst = max(worst, abs(paired))
            print(
                f"| {kind} | `{name}` | {hidden:.3f} | {missing:.3f} | {hidden - missing:+.3f} "
                f"| {paired:+.3f} |"
            )
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(
        f"\nLargest paired difference {worst:.3f} ms: {verdict} the {TARGET_MS} ms target. "
        "'difference' is between the two medians, 'paired' the median of the differences "
        "within each round (less moved by other load on the machine)."
    )


if __name__ == "__main__":
    main()
