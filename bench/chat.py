"""Chat throughput and delivery latency of Polaris against Synapse, through one Matrix client.

Run by hand (never in CI), from the repository root, with Synapse in a virtualenv of its own:

    python3.11 -m venv /work/tmp/synapse-venv
    /work/tmp/synapse-venv/bin/pip install 'matrix-synapse>=1.163,<1.164'
    PYTHONPATH=src .venv/bin/python bench/chat.py --synapse-python /work/tmp/synapse-venv/bin/python

Each server runs in turn, alone, from a fresh temp dir on a free port of 127.0.0.1: Polaris from
`polaris init --demo` (SQLite) and `polaris serve`; Synapse with SQLite, federation and presence
off and every rate limit raised. The same asyncio/aiohttp client speaks the Matrix
client-server API to both: `--users` users (Polaris's demo station officers, who sign in with a
password alone; on Synapse as many users made through the shared-secret registration API), one
private room (`preset: private_chat`) they all join, then

- messages/s: `--senders` users each sending `PUT /rooms/{id}/send/m.room.message/{txnId}`
  one after the other for `--send-seconds`;
- delivery latency: `--clients` (50 and 200) logins long-polling `/sync` (`timeout`), one
  sender sending `--latency-messages` at `--rate` a second; a message's latency in one client
  is the time its sync answer arrived minus the time the send started.

The Markdown report goes to stdout, progress to stderr. Every process it started is stopped at
the end (SIGKILL to the whole process tree when SIGTERM is not enough within 10 s; SIGTERM and
SIGHUP to the bench unwind the same way) and its temp dir is removed unless `--keep`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import hashlib
import hmac
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from lib_peers import (
    BenchError,
    PolarisServer,
    Server,
    cpu_seconds,
    run_checked,
    temp_tree,
)

REPO = Path(__file__).resolve().parent.parent
PEERS = ("polaris", "synapse")
# Station officers: their roles sign in with a password alone (SHOs and above need MFA).
POLARIS_PREFIXES = ("ct.", "hc.", "si.")
SYNC_FILTER = json.dumps({"room": {"timeline": {"limit": 1}}}, separators=(",", ":"))
LONG_POLL_MS = 30_000
PHASE_TIMEOUT = 120.0
TARGET_RATIO = 3.0
TARGET_P99_MS = 200.0
STOP_GRACE = 10.0


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- servers ------------------------------------------------------------------------------------


def stop_tree(server: Server, pids: list[int]) -> None:
    """SIGTERM the server, then SIGKILL whatever of its process tree is left."""
    if server.proc is not None and server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class PolarisChat(PolarisServer):
    """`polaris init --demo` and `polaris serve`; the users are the demo's station officers."""

    def __init__(self, workdir: Path, polaris_bin: Path, workers: int) -> None:
        super().__init__(workdir, polaris_bin, workers)
        self.users: list[str] = []
        self.password = ""

    def prepare(self) -> None:
        run_checked(
            [str(self.polaris_bin), "init", str(self.data_dir), "--demo"],
            log=self.workdir / "setup.log",
        )
        lines = (self.data_dir / "demo-logins.txt").read_text(encoding="utf-8").splitlines()
        for line in lines:
            if line.startswith("password for every demo user:"):
                self.password = line.split(":", 1)[1].strip()
            elif "\t" in line and line.startswith(POLARIS_PREFIXES):
                self.users.append(line.split("\t", 1)[0])
        if not self.password or not self.users:
            raise BenchError("polaris: demo-logins.txt has no password or no station officers")

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class SynapseServer(Server):
    """Synapse (`synapse.app.homeserver`) from its own virtualenv, configured for the bench."""

    name = "synapse"

    def __init__(self, workdir: Path, python: Path) -> None:
        super().__init__(workdir)
        self.python = python
        self.config = workdir / "homeserver.yaml"
        self.secret = secrets.token_hex(16)

    def prepare(self) -> None:
        w = self.workdir
        fast = {"per_second": 100_000, "burst_count": 100_000}
        log_config = {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(w / "synapse.log"),
                    "formatter": "plain",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        (w / "log.yaml").write_text(json.dumps(log_config))
        # JSON is YAML: no YAML library is needed on this side.
        config: dict[str, Any] = {
            "server_name": "synapse.bench",
            "pid_file": str(w / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(w / "homeserver.db")}},
            "log_config": str(w / "log.yaml"),
            "media_store_path": str(w / "media"),
            "signing_key_path": str(w / "signing.key"),
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "report_stats": False,
            "enable_metrics": False,
            "registration_shared_secret": self.secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "enable_registration": False,
            # Federation off: no server may be talked to; presence off.
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            # Registration is set-up, not measured: cheap hashes.
            "bcrypt_rounds": 4,
            "rc_message": fast,
            "rc_registration": fast,
            "rc_login": {"address": fast, "account": fast, "failed_attempts": fast},
            "rc_admin_redaction": fast,
            "rc_joins": {"local": fast, "remote": fast},
            "rc_joins_per_room": fast,
            "rc_key_requests": fast,
            "rc_3pid_validation": fast,
            "rc_invites": {"per_room": fast, "per_user": fast, "per_issuer": fast},
            "rc_third_party_invite": fast,
            "rc_media_create": fast,
            "rc_presence": {"per_user": fast},
            "rc_delayed_event_mgmt": fast,
            "rc_room_creation": fast,
            "rc_reports": fast,
            "rc_user_directory": fast,
            "rc_profile": fast,
        }
        self.config.write_text(json.dumps(config, indent=1))
        run_checked(
            [*self.command(), "--generate-keys"],
            log=w / "setup.log",
        )

    def command(self) -> list[str]:
        return [str(self.python), "-m", "synapse.app.homeserver", "-c", str(self.config)]

    def ready_path(self) -> tuple[str, int | None]:
        return "/_matrix/client/versions", 200

    def version(self) -> str:
        out = subprocess.run(
            [str(self.python), "-c", "import synapse; print(synapse.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip()

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                raw = (entry / "stat").read_text()
                ppid = int(raw[raw.rindex(")") + 2 :].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


# --- the one Matrix client ----------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    user_id: str
    token: str


class Matrix:
    """The few client-server calls the bench makes, the same for both servers."""

    def __init__(self, name: str, base_url: str, session: aiohttp.ClientSession) -> None:
        self.name = name
        self.base = base_url + "/_matrix/client/v3"
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        account: Account | None = None,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], float]:
        """The answer, and the time it had been read, before the client parses it: the bench's
        clients share one process, so the parsing of the answers that arrived together would
        otherwise be counted into the later ones' delivery."""
        headers = {"Authorization": f"Bearer {account.token}"} if account else {}
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        async with self.session.request(method, url, json=body, headers=headers) as resp:
            raw = await resp.read()
            stamp = time.perf_counter()
            if resp.status != 200:
                raise BenchError(f"{self.name}: {method} {path} answered {resp.status}: {raw!r}")
        answer = json.loads(raw)
        if not isinstance(answer, dict):
            raise BenchError(f"{self.name}: {method} {path} answered {raw[:200]!r}")
        return answer, stamp

    async def login(self, user: str, password: str, device: str) -> Account:
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
            "initial_device_display_name": device,
        }
        answer, _ = await self.call("POST", "/login", body=body)
        return Account(str(answer["user_id"]), str(answer["access_token"]))

    async def create_room(self, owner: Account, invite: list[str]) -> str:
        body = {"preset": "private_chat", "name": "bench", "invite": invite}
        answer, _ = await self.call("POST", "/createRoom", owner, body)
        return str(answer["room_id"])

    async def join(self, account: Account, room: str) -> None:
        await self.call("POST", f"/rooms/{urllib.parse.quote(room)}/join", account, {})

    async def send(self, account: Account, room: str, txn: str, text: str) -> None:
        path = f"/rooms/{urllib.parse.quote(room)}/send/m.room.message/{txn}"
        await self.call("PUT", path, account, {"msgtype": "m.text", "body": text})

    async def sync(
        self, account: Account, since: str | None, timeout_ms: int
    ) -> tuple[dict[str, Any], float]:
        """The answer, and when it had arrived (``call``)."""
        query = {"filter": SYNC_FILTER, "timeout": str(timeout_ms)}
        if since is not None:
            query["since"] = since
        return await self.call("GET", "/sync", account, query=query)


async def register_synapse(
    session: aiohttp.ClientSession, server: SynapseServer, user: str, password: str
) -> None:
    """The shared-secret registration API (what `register_new_matrix_user` calls)."""
    url = server.base_url() + "/_synapse/admin/v1/register"
    async with session.get(url) as resp:
        nonce = str((await resp.json())["nonce"])
    mac = hmac.new(server.secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]))
    body = {
        "nonce": nonce,
        "username": user,
        "password": password,
        "admin": False,
        "mac": mac.hexdigest(),
    }
    async with session.post(url, json=body) as resp:
        if resp.status != 200:
            raise BenchError(f"synapse: registering {user}: {resp.status} {await resp.text()}")


T = TypeVar("T")


async def bounded(limit: int, jobs: list[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs with at most `limit` at a time; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


# --- measurements -------------------------------------------------------------------------------


class Cpu:
    """CPU seconds of this process (the client) and of the server's process tree."""

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = server_pids

    def __enter__(self) -> Cpu:
        self.t0 = time.perf_counter()
        self.client0 = time.process_time()
        self.server0 = cpu_seconds(self.server_pids)
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.client = (time.process_time() - self.client0) / self.wall
        #: The server's CPU seconds over the phase, and as a share of its wall-clock time.
        self.server_seconds = cpu_seconds(self.server_pids) - self.server0
        self.server = self.server_seconds / self.wall


@dataclass
class Throughput:
    messages: int
    seconds: float
    put_ms: list[float]
    client_cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_ms_per_message(self) -> float:
        """The server's CPU per sent message: what the shared cores' noise does not change."""
        return self.server_cpu * self.seconds * 1000 / max(1, self.messages)


@dataclass
class Latency:
    clients: int
    sent: int
    samples_ms: list[float]
    missing: int
    client_cpu: float
    server_cpu: float
    #: The server's CPU seconds while the messages were sent and delivered.
    server_seconds: float = 0.0

    @property
    def cpu_ms_per_delivery(self) -> float:
        """The server's CPU per delivered event (one message in one client's sync answer)."""
        return self.server_seconds * 1000 / max(1, len(self.samples_ms))

    def pct(self, p: float) -> float:
        return percentile(self.samples_ms, p)


@dataclass
class Result:
    name: str
    version: str = ""
    throughput: Throughput | None = None
    latency: dict[int, Latency] = field(default_factory=dict)
    profiles: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def measure_throughput(
    mx: Matrix, senders: list[Account], room: str, seconds: float, pids: list[int]
) -> Throughput:
    tag = secrets.token_hex(3)

    async def warm(index: int, account: Account) -> None:
        for n in range(5):
            await mx.send(account, room, f"w{tag}s{index}n{n}", f"warm-up {n}")

    await asyncio.gather(*(warm(i, a) for i, a in enumerate(senders)))
    put_ms: list[float] = []
    counts = [0] * len(senders)
    deadline = time.perf_counter() + seconds

    async def sender(index: int, account: Account) -> None:
        n = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await mx.send(account, room, f"t{tag}s{index}n{n}", f"message {n} from sender {index}")
            put_ms.append((time.perf_counter() - t0) * 1000)
            n += 1
        counts[index] = n

    with Cpu(pids) as cpu:
        await asyncio.gather(*(sender(i, a) for i, a in enumerate(senders)))
    return Throughput(sum(counts), cpu.wall, put_ms, cpu.client, cpu.server)


class Arrivals:
    """When each sync client first saw each latency message, and who has seen the last one."""

    def __init__(self, clients: int, room: str, tag: str) -> None:
        self.room = room
        self.prefix = f"lat {tag} "
        self.seen: list[dict[int, float]] = [{} for _ in range(clients)]
        self.count: Counter[int] = Counter()
        self.clients = clients
        self.waiters: dict[int, asyncio.Event] = {}

    def take(self, client: int, answer: dict[str, Any], now: float) -> None:
        room = answer.get("rooms", {}).get("join", {}).get(self.room, {})
        for event in room.get("timeline", {}).get("events", []):
            body = event.get("content", {}).get("body", "")
            if isinstance(body, str) and body.startswith(self.prefix):
                number = int(body.removeprefix(self.prefix))
                if number not in self.seen[client]:
                    self.seen[client][number] = now
                    self.count[number] += 1
                    waiter = self.waiters.get(number)
                    if waiter is not None and self.count[number] >= self.clients:
                        waiter.set()

    async def wait_all(self, number: int, timeout: float) -> bool:
        event = self.waiters.setdefault(number, asyncio.Event())
        if self.count[number] >= self.clients:
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


async def sync_loop(
    mx: Matrix,
    account: Account,
    client: int,
    arrivals: Arrivals,
    ready: asyncio.Event,
    started: list[int],
) -> None:
    """An initial sync, then long-polls from its `next_batch`, recording arrivals."""
    answer, _ = await mx.sync(account, None, 0)
    since = str(answer["next_batch"])
    started[0] += 1
    if started[0] == arrivals.clients:
        ready.set()
    while True:
        answer, arrived = await mx.sync(account, since, LONG_POLL_MS)
        arrivals.take(client, answer, arrived)
        since = str(answer["next_batch"])


async def measure_latency(
    mx: Matrix,
    sender: Account,
    logins: list[Account],
    room: str,
    messages: int,
    rate: float,
    pids: list[int],
    profiler: Profiler | None = None,
) -> Latency:
    """Delivery latency; the CPU and the profile (``profiler``) cover the paced sends only,
    after every client's initial sync and the warm-up message."""
    tag = secrets.token_hex(3)
    arrivals = Arrivals(len(logins), room, tag)
    ready = asyncio.Event()
    started = [0]
    tasks = [
        asyncio.create_task(sync_loop(mx, account, index, arrivals, ready, started))
        for index, account in enumerate(logins)
    ]
    try:
        waiting = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            [waiting, *tasks], timeout=PHASE_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if waiting not in done:
            waiting.cancel()
            for task in done:
                task.result()  # a failed sync loop ends the run with its error
            raise BenchError(f"{mx.name}: {len(logins)} initial syncs took over {PHASE_TIMEOUT} s")
        # Message 0 is the warm-up: every client has seen it, so every client is long-polling.
        await mx.send(sender, room, f"l{tag}n0", f"lat {tag} 0")
        if not await arrivals.wait_all(0, PHASE_TIMEOUT):
            raise BenchError(f"{mx.name}: the warm-up message did not reach every client")
        sent: dict[int, float] = {}
        interval = 1.0 / rate
        with profiler or contextlib.nullcontext(), Cpu(pids) as cpu:
            t_start = time.perf_counter()
            for number in range(1, messages + 1):
                # Sends are paced on a fixed schedule, not back to back after a slow answer;
                # the first an interval after the warm-up had reached every client, as each
                # later one after its predecessor (sent at once, it met the warm-up's 200 new
                # long-polls still arriving, and its 200 samples alone made the p99).
                await asyncio.sleep(max(0.0, t_start + number * interval - time.perf_counter()))
                sent[number] = time.perf_counter()
                await mx.send(sender, room, f"l{tag}n{number}", f"lat {tag} {number}")
            await arrivals.wait_all(messages, 30.0)
        for task in tasks:
            if task.done():
                task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    samples = [
        (seen[number] - sent[number]) * 1000
        for seen in arrivals.seen
        for number in sent
        if number in seen
    ]
    missing = len(sent) * len(logins) - len(samples)
    return Latency(
        len(logins), len(sent), samples, missing, cpu.client, cpu.server, cpu.server_seconds
    )


# --- profiles -----------------------------------------------------------------------------------


class Profiler:
    """`py-spy record` of the server's process tree while a phase runs (raw, collapsed stacks)."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        self.pid = pid
        self.seconds = seconds
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if self.seconds > 0 and Path(py_spy).exists():
            self.proc = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(self.pid),
                    "--duration",
                    str(int(self.seconds)),
                    "--rate",
                    "100",
                    "--nonblocking",
                    "--subprocesses",
                    "--format",
                    "raw",
                    "--output",
                    str(self.out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=self.seconds + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def top(self, package: str, count: int = 10) -> list[tuple[str, float]]:
        """The functions most often on top of the stack (own time), then the functions of
        `package` (a path part, `polaris/`) most often anywhere on it (inclusive time), as
        shares of the samples; the first inclusive entry is marked `(incl.)`."""
        if self.proc is None or not self.out.exists():
            return []
        own: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = 0
        for line in self.out.read_text(errors="replace").splitlines():
            stack, _, number = line.rpartition(" ")
            if not stack or not number.isdigit():
                continue
            frames = stack.split(";")
            own[shorten(frames[-1])] += int(number)
            mine = {shorten(f) for f in frames[1:] if f"({package}" in f}  # [0]: the process
            for name in mine:
                inclusive[name] += int(number)
            total += int(number)
        if not total:
            return []
        return [(name, n / total) for name, n in own.most_common(count)] + [
            (f"{name} (incl.)", n / total) for name, n in inclusive.most_common(count)
        ]


def shorten(frame: str) -> str:
    """`func (/long/path/site-packages/pkg/mod.py:12)` -> `func (pkg/mod.py)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


def run_client(work: Coroutine[Any, Any, T]) -> T:
    """``work`` on uvloop's event loop (the server's own, through uvicorn) when it is installed:
    the bench's one client process speaks for every sync client, and the default loop's extra
    cost per answer would be counted into both servers' deliveries."""
    try:
        import uvloop
    except ImportError:
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(work)


# --- one server, end to end ---------------------------------------------------------------------


@dataclass
class Options:
    senders: int
    send_seconds: float
    clients: list[int]
    messages: int
    rate: float
    users: int
    py_spy: float


async def bench_server(
    name: str,
    base_url: str,
    users: list[str],
    password: str,
    server_pid: int,
    opts: Options,
    workdir: Path,
) -> Result:
    result = Result(name)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=LONG_POLL_MS / 1000 + 60)
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        mx = Matrix(name, base_url, session)
        progress(f"{name}: signing in {max(opts.clients)} sync clients and {opts.senders} senders")
        senders = await bounded(
            4, [functools.partial(mx.login, u, password, "sender") for u in users[: opts.senders]]
        )
        logins = await bounded(
            4,
            [
                functools.partial(mx.login, users[i % len(users)], password, f"sync{i}")
                for i in range(max(opts.clients))
            ],
        )
        owner = senders[0]
        members = sorted({a.user_id for a in senders + logins} - {owner.user_id})
        room = await mx.create_room(owner, members)
        joined = {owner.user_id: owner}
        for account in senders + logins:
            joined.setdefault(account.user_id, account)
        await bounded(
            4, [functools.partial(mx.join, a, room) for a in joined.values() if a != owner]
        )
        pids = tree_pids(server_pid)
        progress(f"{name}: {opts.senders} senders for {opts.send_seconds:g} s")
        profiler = Profiler(server_pid, min(opts.py_spy, opts.send_seconds), workdir / "send.txt")
        with profiler:
            result.throughput = await measure_throughput(mx, senders, room, opts.send_seconds, pids)
        result.profiles[f"{opts.senders} senders"] = profiler.top(f"{name}/")
        progress(
            f"{name}: {result.throughput.rate:.0f} messages/s, server CPU "
            f"{result.throughput.cpu_ms_per_message:.2f} ms per message"
        )
        for count in opts.clients:
            progress(f"{name}: {count} sync clients, {opts.messages} messages at {opts.rate}/s")
            seconds = min(opts.py_spy, opts.messages / opts.rate)
            profiler = Profiler(server_pid, seconds, workdir / f"sync{count}.txt")
            latency = await measure_latency(
                mx, owner, logins[:count], room, opts.messages, opts.rate, pids, profiler
            )
            if count == max(opts.clients):
                result.profiles[f"{count} sync clients"] = profiler.top(f"{name}/")
            result.latency[count] = latency
            progress(
                f"{name}: p50 {latency.pct(50):.0f} ms, p99 {latency.pct(99):.0f} ms, "
                f"{latency.missing} missing, server CPU {latency.cpu_ms_per_delivery:.2f} ms per "
                f"delivery"
            )
    return result


def run_polaris(opts: Options, root: Path, polaris_bin: Path, workers: int) -> Result:
    server = PolarisChat(root / "polaris", polaris_bin, workers)
    pids: list[int] = []
    try:
        progress("polaris: init --demo and serve")
        server.start()
        pids = tree_pids(server.pid)
        version = ""
        with contextlib.suppress(OSError, ValueError):
            import urllib.request

            with urllib.request.urlopen(server.base_url() + "/api/v1/health", timeout=10) as r:
                version = str(json.loads(r.read()).get("version", ""))
        users = server.users[: opts.users]
        result = run_client(
            bench_server(
                "polaris",
                server.base_url(),
                users,
                server.password,
                server.server_pid(),
                opts,
                server.workdir,
            )
        )
        result.version = version
        return result
    finally:
        stop_tree(server, pids + (tree_pids(server.pid) if server.proc else []))


def run_synapse(opts: Options, root: Path, python: Path) -> Result:
    if not python.exists():
        raise BenchError(
            f"no Synapse at {python}: python3.11 -m venv DIR && "
            "DIR/bin/pip install 'matrix-synapse>=1.163,<1.164', "
            "then --synapse-python DIR/bin/python"
        )
    server = SynapseServer(root / "synapse", python)
    pids: list[int] = []
    users = [f"bench{n:02d}" for n in range(opts.users)]
    password = secrets.token_urlsafe(12)
    try:
        progress("synapse: configure and start")
        server.start()
        pids = tree_pids(server.pid)

        async def register() -> None:
            async with aiohttp.ClientSession() as session:
                for user in users:
                    await register_synapse(session, server, user, password)

        run_client(register())
        result = run_client(
            bench_server(
                "synapse", server.base_url(), users, password, server.pid, opts, server.workdir
            )
        )
        result.version = server.version()
        return result
    finally:
        stop_tree(server, pids + (tree_pids(server.pid) if server.proc else []))


# --- report -------------------------------------------------------------------------------------


def ratio(ours: float, theirs: float) -> str:
    if not theirs or theirs != theirs or ours != ours:
        return "–"
    return f"{ours / theirs:.2f}×"


def fmt(value: float, digits: int = 0) -> str:
    return "–" if value != value else f"{value:,.{digits}f}"


def report(
    results: dict[str, Result], opts: Options, argv: list[str], load: str, load_after: str
) -> str:
    pol, syn = results.get("polaris"), results.get("synapse")
    out = [
        f"Chat benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC: "
        f"`{' '.join(['bench/chat.py', *argv])}`",
        "",
        f"Load before the run: `{load}`; after: `{load_after}`; {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}; "
        + "; ".join(f"{r.name} {r.version}" for r in results.values()),
        "",
        "| measure | Polaris | Synapse | Polaris ÷ Synapse | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]

    def thr(result: Result | None) -> float:
        return result.throughput.rate if result and result.throughput else float("nan")

    target = f"≥ {TARGET_RATIO:g}×"
    out.append(
        f"| messages/s, {opts.senders} senders, one room | {fmt(thr(pol))} | {fmt(thr(syn))} | "
        f"{ratio(thr(pol), thr(syn))} | {target} |"
    )
    for count in opts.clients:
        for p in (50, 99):

            def lat(result: Result | None, count: int = count, p: int = p) -> float:
                if result is None or count not in result.latency:
                    return float("nan")
                return result.latency[count].pct(p)

            goal = f"< {TARGET_P99_MS:.0f} ms" if p == 99 and count == max(opts.clients) else ""
            out.append(
                f"| delivery p{p}, {count} sync clients, ms | {fmt(lat(pol))} | {fmt(lat(syn))} "
                f"| {ratio(lat(pol), lat(syn))} | {goal} |"
            )
    out += [
        "",
        "| run | messages | missing | client CPU | server CPU | send p50 / p99 ms "
        "| server CPU ms per message / delivery |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results.values():
        t = result.throughput
        if t is not None:
            out.append(
                f"| {result.name}, {opts.senders} senders, {t.seconds:.1f} s | {t.messages} | – "
                f"| {t.client_cpu:.0%} | {t.server_cpu:.0%} | "
                f"{percentile(t.put_ms, 50):.0f} / {percentile(t.put_ms, 99):.0f} | "
                f"{t.cpu_ms_per_message:.2f} |"
            )
        for count, run in result.latency.items():
            out.append(
                f"| {result.name}, {count} sync clients | {run.sent} × {count} | {run.missing} | "
                f"{run.client_cpu:.0%} | {run.server_cpu:.0%} | – | "
                f"{run.cpu_ms_per_delivery:.2f} |"
            )
    rates = [(r.name, r.throughput) for r in results.values() if r.throughput]
    if pol and syn and pol.throughput and syn.throughput:
        met = pol.throughput.rate >= TARGET_RATIO * syn.throughput.rate
        out += [
            "",
            f"Messages/s target (≥ {TARGET_RATIO:g}× Synapse): {'met' if met else 'MISSED'}.",
        ]
    elif rates:
        out += ["", "Only one server ran: no ratio."]
    if pol and max(opts.clients) in pol.latency:
        p99 = pol.latency[max(opts.clients)].pct(99)
        verdict = "met" if p99 < TARGET_P99_MS else "MISSED"
        out.append(
            f"Delivery target (p99 < {TARGET_P99_MS:.0f} ms at {max(opts.clients)} clients): "
            f"{verdict} ({p99:.0f} ms)."
        )
    for result in results.values():
        for phase, top in result.profiles.items():
            if not top:
                continue
            out += [
                "",
                f"{result.name}, {phase}: py-spy, share of samples on top of the stack, then "
                f"(incl.) anywhere on it:",
                "",
            ]
            out += [f"- {share:.0%} `{frame}`" for frame, share in top]
    return "\n".join(out) + "\n"


# --- main ---------------------------------------------------------------------------------------


def uptime() -> str:
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return out or "load average " + ", ".join(Path("/proc/loadavg").read_text().split()[:3])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PEERS), help="subset of polaris,synapse")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--send-seconds", type=float, default=20.0)
    parser.add_argument("--clients", default="50,200", help="sync client counts, comma-separated")
    parser.add_argument("--latency-messages", type=int, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="latency messages a second")
    parser.add_argument("--users", type=int, default=24, help="distinct users (≤ 36)")
    parser.add_argument("--py-spy", type=float, default=0.0, help="profile each server N s")
    parser.add_argument("--polaris-bin", type=Path, default=Path(sys.executable).parent / "polaris")
    parser.add_argument("--polaris-workers", type=int, default=1)
    parser.add_argument(
        "--synapse-python", type=Path, default=Path("/work/tmp/synapse-venv/bin/python")
    )
    parser.add_argument("--tmp", type=Path, default=None, help="where the temp dir goes")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and logs")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    if unknown := set(only) - set(PEERS):
        raise SystemExit(f"--only: unknown {sorted(unknown)}")
    opts = Options(
        senders=args.senders,
        send_seconds=args.send_seconds,
        clients=sorted({int(c) for c in args.clients.split(",")}),
        messages=args.latency_messages,
        rate=args.rate,
        users=args.users,
        py_spy=args.py_spy,
    )
    if opts.users < opts.senders:
        raise SystemExit("--users must be at least --senders")

    # A SIGTERM or SIGHUP unwinds like Ctrl-C, so every server and temp dir is cleaned up.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    load_text = uptime()
    results: dict[str, Result] = {}
    with temp_tree(args.tmp, args.keep) as root:
        if "polaris" in only:
            results["polaris"] = run_polaris(
                opts, root, args.polaris_bin.absolute(), args.polaris_workers
            )
        if "synapse" in only:
            results["synapse"] = run_synapse(opts, root, args.synapse_python.absolute())
    print(report(results, opts, argv, load_text, uptime()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: the servers were stopped", file=sys.stderr)
        sys.exit(130)
