"""Two ``polaris serve`` nodes with separate data directories share one instance and nothing else.

One PostgreSQL (a schema of this test's own), one SeaweedFS (the S3 store), one Redis. Node A is
made by ``polaris init`` with its keys outside its data directory, node B by ``polaris init
--join`` with copies of those keys; each data directory then holds ``polaris.toml`` alone. What a
node serves must not depend on which node received the upload:

* a file uploaded on A is listed, downloaded and found by its text on B;
* a tus upload begun on A survives ``kill -9`` of A and is finished on B from the offset B reports;
* background jobs (previews, text, indexing) ran on both nodes (A's for the first file, while B was
  not started yet; B's for the second, A being dead), and none failed;
* a web node without job threads (A restarted so) still wakes B's workers through Redis at once.

Every wait polls state (the job table, an upload's offset, a search) under one overall deadline.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import socket
import string
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from polaris.cli.main import app as cli_app
from polaris.config import load_settings
from polaris.db.engine import make_engine
from polaris.drive._http import HANDOFF_BYTES
from polaris.identity import program_tokens
from polaris.instance import open_instance
from tests import live_server
from tests.conftest import PG_SCHEMA, pg_url, reset_postgresql
from tests.factories import SYSTEM, build_tree, make_user
from tests.live_server import Server, wait_for
from tests.support.redis_server import running_redis
from tests.support.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedFS

CLUSTER_SCHEMA = PG_SCHEMA + "_cluster"
#: The servers' chunk size (``tests.live_server``); a tus request records its progress at least
#: every ``drive._http.HANDOFF_BYTES`` it receives (every chunk, with chunks this small).
CHUNK = live_server.CHUNK
HANDOFF_CHUNKS = HANDOFF_BYTES // CHUNK
#: The whole test, from the first node's start to the last search (a bound, not a timing).
DEADLINE_SECONDS = 300.0
NEXT_LINE = {"new_x": "LMARGIN", "new_y": "NEXT"}
JOB_KINDS = {"ingest.previews", "ingest.text", "search.index"}

runner = CliRunner()


@pytest.fixture
def database() -> Iterator[str]:
    engine = make_engine(pg_url(CLUSTER_SCHEMA))
    reset_postgresql(engine, CLUSTER_SCHEMA)
    yield pg_url(CLUSTER_SCHEMA)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {CLUSTER_SCHEMA} CASCADE"))
    engine.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


@dataclass
class Cluster:
    directory: Path
    init_args: list[str]
    database: Engine
    servers: list[Server] = field(default_factory=list)
    deadline: float = field(default_factory=lambda: time.monotonic() + DEADLINE_SECONDS)

    def init(self, name: str, *extra: str) -> Path:
        data_dir = self.directory / name
        made = runner.invoke(cli_app, ["init", str(data_dir), *self.init_args, *extra])
        assert made.exit_code == 0, made.output
        assert sorted(p.name for p in data_dir.iterdir()) == ["polaris.toml"]
        return data_dir

    def serve(self, data_dir: Path) -> Server:
        # A worker polls the queue once an hour: only a commit in its own process or a nudge
        # from another node through Redis wakes it in time.
        env = {"POLARIS_JOBS__POLL_SECONDS": "3600"}
        server = Server(data_dir, env=env, log=self.directory / f"{data_dir.name}.log")
        self.servers.append(server)
        server.start()
        return server

    def until(self, condition: Callable[[], object], what: str) -> None:
        wait_for(condition, what=what, timeout=max(self.deadline - time.monotonic(), 1.0))

    def jobs(self) -> list[dict[str, object]]:
        """Every job but those queued for later (a periodic job, such as retention's pass,
        queues its next run ahead: it is not work this test caused)."""
        with self.database.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, kind, status, worker, error, subject_id FROM job"
                    " WHERE NOT (status = 'queued' AND run_after > CURRENT_TIMESTAMP)"
                    " ORDER BY id"
                )
            )
            return [dict(row._mapping) for row in rows]

    def settled(self) -> bool:
        """Every job done; a failed one fails the test at once, with its reason."""
        found = self.jobs()
        failed = [job for job in found if job["status"] == "failed"]
        assert not failed, failed
        return all(job["status"] == "done" for job in found)


@pytest.fixture
def cluster(
    tmp_path: Path,
    database: str,
    seaweedfs: SeaweedFS,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cluster]:
    if not seaweedfs.running:  # a fault test elsewhere that failed before restarting it
        seaweedfs.start()
    # The S3 credentials reach every node through its environment, never its polaris.toml.
    monkeypatch.setenv("POLARIS_STORAGE__S3__ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("POLARIS_STORAGE__S3__SECRET_ACCESS_KEY", SECRET_KEY)
    keys = tmp_path / "keys"  # what the operator distributes to every node
    keys.mkdir(mode=0o700)
    storage = (
        f"s3://{seaweedfs.bucket}/cluster-{uuid.uuid4().hex[:12]}?endpoint={seaweedfs.endpoint}"
    )
    engine = make_engine(database)
    init_args = [
        "--database-url", database, "--storage", storage, "--redis-url", redis_url,
        "--master-key-file", str(keys / "master.key"),
        "--audit-key-file", str(keys / "audit-signing.key"),
    ]  # fmt: skip
    made = Cluster(directory=tmp_path, init_args=init_args, database=engine)
    try:
        yield made
    finally:
        for server in made.servers:
            if server.process is not None and server.process.poll() is None:
                server.kill()
        engine.dispose()


def a_person_with_a_token(data_dir: Path) -> str:
    instance = open_instance(load_settings(data_dir))
    session = instance.sessions()
    build_tree(session)
    user = make_user(session, "hc.cluster", unit="PS-A1", role="head_constable")
    token = program_tokens.create_token(
        session=session, user=user, name="cluster", scopes=["all"], lifetime_days=1, context=SYSTEM
    ).secret
    session.commit()
    session.close()
    instance.close()
    return token


def memo_pdf(word: str, pages: int, *, photo_bytes: int = 0) -> bytes:
    """A PDF with a text layer (so its text is read without OCR), ``word`` on its first page,
    and a photograph of noise of about ``photo_bytes`` (it does not compress)."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for page in range(pages):
        pdf.add_page()
        title = f"Seizure memo {word if page == 0 else ''} page {page + 1}"
        pdf.multi_cell(0, 6, title, **NEXT_LINE)
        for line in range(25):
            pdf.multi_cell(0, 6, f"Item {line}: recovered at the scene, sealed.", **NEXT_LINE)
        if page == 0 and photo_bytes:  # on a page with text: it is read, not OCRed
            side = int((photo_bytes / 3) ** 0.5)
            noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
            pdf.image(noise, w=60)
    return bytes(pdf.output())


def unique_word() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=14))


@pytest.mark.slow
def test_two_nodes_share_files_uploads_search_and_jobs(cluster: Cluster) -> None:
    node_a_dir = cluster.init("node-a")
    token = a_person_with_a_token(node_a_dir)
    auth = {"Authorization": f"Bearer {token}"}
    tus = {**auth, "Tus-Resumable": "1.0.0"}

    # Node A alone: an upload, and its jobs, all run by A.
    node_a = cluster.serve(node_a_dir)
    status, _, body = node_a.request("GET", "/api/v1/spaces", headers=auth)
    assert status == 200, body
    root = next(s["root_id"] for s in json.loads(body) if s["kind"] == "user")
    first_word = unique_word()
    first = memo_pdf(first_word, 2)
    status, _, body = node_a.request(
        "POST", f"/api/v1/files?parent_id={root}&name=memo-a.pdf", first, auth
    )
    assert status == 201, body
    first_id = json.loads(body)["id"]
    cluster.until(lambda: {j["kind"] for j in cluster.jobs()} >= JOB_KINDS, "A's jobs queued")
    cluster.until(cluster.settled, "A's jobs done")

    # Node B joins with copies of the keys, and serves what A stored.
    node_b = cluster.serve(cluster.init("node-b", "--join"))
    assert names_on(node_b, auth, root) == ["memo-a.pdf"]
    status, _, content = node_b.request("GET", f"/api/v1/files/{first_id}/content", headers=auth)
    assert status == 200 and hashlib.sha256(content).digest() == hashlib.sha256(first).digest()
    assert found_on(node_b, auth, first_word) == [first_id]

    # A tus upload begun on A, A killed with SIGKILL mid-request, finished on B.
    second_word = unique_word()
    second = memo_pdf(second_word, 1, photo_bytes=(HANDOFF_CHUNKS + 8) * CHUNK)
    assert len(second) > (HANDOFF_CHUNKS + 6) * CHUNK
    meta = f"filename {_b64('memo-b.pdf')},parent_id {_b64(str(root))}"
    status, headers, _ = node_a.request(
        "POST",
        "/api/v1/uploads",
        headers={**tus, "Upload-Length": str(len(second)), "Upload-Metadata": meta},
    )
    assert status == 201
    location = headers["Location"]
    sent = (HANDOFF_CHUNKS + 4) * CHUNK  # the request stays open: the rest is never sent
    with socket.create_connection(("127.0.0.1", node_a.port)) as sender:
        sender.sendall(
            (
                f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                "Content-Type: application/offset+octet-stream\r\n"
                f"Content-Length: {len(second)}\r\n\r\n"
            ).encode()
            + second[:sent]
        )
        cluster.until(lambda: offset_on(node_b, location, tus) > 0, "A to store a first part")
        node_a.kill()
    resumed_at = offset_on(node_b, location, tus)
    # Progress is recorded as chunks are stored: some part, whole chunks, never past what was sent.
    assert CHUNK <= resumed_at <= sent and resumed_at % CHUNK == 0
    assert names_on(node_b, auth, root) == ["memo-a.pdf"], "a partial upload is never visible"
    status, headers, body = node_b.request(
        "PATCH",
        location,
        body=second[resumed_at:],
        headers={
            **tus,
            "Upload-Offset": str(resumed_at),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert status == 204, body
    second_id = int(headers["Polaris-Node-Id"])
    status, _, content = node_b.request("GET", f"/api/v1/files/{second_id}/content", headers=auth)
    assert status == 200 and hashlib.sha256(content).digest() == hashlib.sha256(second).digest()

    # B runs the second file's jobs (A is dead); then B finds it by its text.
    cluster.until(lambda: found_on(node_b, auth, second_word) == [second_id], "B to index")
    cluster.until(cluster.settled, "B's jobs done")
    a, b = _pid_of(node_a), _pid_of(node_b)
    ran = {(job["kind"], _pid(job["worker"])) for job in cluster.jobs()}
    assert {pid for _, pid in ran} == {a, b}, cluster.jobs()
    assert {(kind, node) for kind in JOB_KINDS for node in (a, b)} <= ran, cluster.jobs()

    # A back as a web node without job threads: its upload's jobs run on B at once, woken by
    # A's nudge through Redis (B would otherwise look only at its next poll, an hour away).
    node_a.env["POLARIS_JOBS__IN_PROCESS_WORKERS"] = "0"
    node_a.start()
    third_word = unique_word()
    status, _, body = node_a.request(
        "POST", f"/api/v1/files?parent_id={root}&name=memo-c.pdf", memo_pdf(third_word, 1), auth
    )
    assert status == 201, body
    third_id = json.loads(body)["id"]
    cluster.until(lambda: found_on(node_a, auth, third_word) == [third_id], "B to index A's file")
    cluster.until(cluster.settled, "the third file's jobs done")
    assert {_pid(job["worker"]) for job in cluster.jobs()} == {a, b}, cluster.jobs()
    for node in ("node-a", "node-b"):  # settings and the node's own logs: a lost node loses nothing
        assert sorted(p.name for p in (cluster.directory / node).iterdir()) == [
            "logs",
            "polaris.toml",
        ]


def names_on(server: Server, auth: dict[str, str], folder: int) -> list[str]:
    status, _, body = server.request("GET", f"/api/v1/nodes/{folder}/children", headers=auth)
    assert status == 200, body
    return [item["name"] for item in json.loads(body)["items"]]


def found_on(server: Server, auth: dict[str, str], word: str) -> list[int]:
    status, _, body = server.request("GET", f"/api/v1/search?q={word}", headers=auth)
    assert status == 200, body
    return [hit["node"]["id"] for hit in json.loads(body)["hits"]]


def offset_on(server: Server, location: str, tus: dict[str, str]) -> int:
    status, headers, _ = server.request("HEAD", location, headers=tus)
    assert status == 200
    return int(headers["Upload-Offset"])


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _pid_of(server: Server) -> int:
    assert server.process is not None
    return server.process.pid


def _pid(worker: object) -> int:
    """The process id in a job's ``worker`` (``host:pid:thread``)."""
    return int(str(worker).split(":")[1])
