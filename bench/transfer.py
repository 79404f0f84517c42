"""Upload and download throughput of Polaris against nginx and rclone, side by side.

Run by hand (never in CI), as root on a Debian machine:

    .venv/bin/python bench/transfer.py                             # the full run (minutes)
    .venv/bin/python bench/transfer.py --size-mib 64 --files 200   # smoke test

It makes one large random file and many small ones, starts each server in turn on the same
files (Polaris from a fresh `polaris init --demo` instance: SQLite, local blob store,
encryption on; nginx with the dav module's PUT; `rclone serve webdav`), and measures them
all with the same client: `http.client` on keep-alive connections, one per thread, reading
into a reused 1 MiB buffer. It prints Markdown tables for docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import http.client
import json
import os
import platform
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lib_peers import (
    CHUNK,
    BenchError,
    NginxServer,
    PolarisServer,
    RcloneServer,
    SinkServer,
    cpu_seconds,
    ensure_debian_packages,
    process_tree,
    reset_peak_rss,
    status_kib,
    temp_tree,
)

REPO = Path(__file__).resolve().parent.parent
PEERS = ("polaris", "nginx", "rclone")
MIB = 1 << 20
MB = 1_000_000
GEN_PIECE = 4 * MIB
RSS_SIZES_MIB = (10, 100)
# "RSS flat in file size": the largest upload may peak at most this much above the smallest.
RSS_FLAT_SLACK_MIB = 32
TIMEOUT = 600.0


# --- test data ----------------------------------------------------------------------------------


@dataclass
class Dataset:
    large: Path
    large_size: int
    large_sha256: str
    # SHA-256 of the first N bytes of the large file, for the peak-RSS uploads.
    prefix_sha256: dict[int, str]
    small: list[bytes]

    @property
    def small_bytes(self) -> int:
        return sum(len(data) for data in self.small)


def make_dataset(root: Path, size_mib: int, files: int, file_kib: int) -> Dataset:
    """Random (incompressible) files, written once and used for every server."""
    root.mkdir(parents=True)
    large = root / "large.bin"
    size = size_mib * MIB
    boundaries = sorted({s * MIB for s in rss_sizes_mib(size_mib)})
    digest = hashlib.sha256()
    prefixes: dict[int, str] = {}
    written = 0
    with large.open("wb") as out:
        while written < size:
            next_boundary = next(b for b in boundaries if b > written)
            piece = os.urandom(min(GEN_PIECE, next_boundary - written))
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            if written in boundaries:
                prefixes[written] = digest.hexdigest()
    small_dir = root / "small"
    small_dir.mkdir()
    small = []
    for index in range(files):
        data = os.urandom(file_kib * 1024)
        (small_dir / f"f{index:05d}.bin").write_bytes(data)
        small.append(data)
    return Dataset(large, size, prefixes[size], prefixes, small)


def rss_sizes_mib(size_mib: int) -> list[int]:
    return sorted({min(s, size_mib) for s in (*RSS_SIZES_MIB, size_mib)})


# --- the one client -----------------------------------------------------------------------------


class Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...


class Target:
    """How the shared client talks to one server: paths, headers, what an upload answers."""

    name = "target"
    verify_content = True

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.headers = headers or {}

    def connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        conn.connect()
        return conn

    def upload_request(self, name: str) -> tuple[str, str]:
        """Method and path that create a file called `name`."""
        return "PUT", "/" + urllib.parse.quote(name)

    def accept_upload(
        self, name: str, size: int, status: int, body: bytes, sha256: str | None
    ) -> str:
        """Check an upload's answer; return the path to download the file from."""
        if status not in (200, 201, 204):
            raise BenchError(f"{self.name}: upload of {name} answered {status}: {body[:300]!r}")
        return "/" + urllib.parse.quote(name)


class DavTarget(Target):
    """nginx and rclone: PUT /name, GET /name."""

    def __init__(self, name: str, port: int) -> None:
        super().__init__(port)
        self.name = name


class SinkTarget(Target):
    """The null sink: its downloads are /bytes/N, with no real content to check."""

    name = "client alone"
    verify_content = False

    def accept_upload(
        self, name: str, size: int, status: int, body: bytes, sha256: str | None
    ) -> str:
        super().accept_upload(name, size, status, body, sha256)
        return f"/bytes/{size}"


class PolarisTarget(Target):
    """Polaris's files API, into the root folder of the token user's own space."""

    name = "polaris"

    def __init__(self, port: int, token: str) -> None:
        super().__init__(port, {"Authorization": f"Bearer {token}"})
        self.parent_id = 0

    def find_user_space(self) -> str:
        """Set the folder to upload into; return the server's version for the report."""
        conn = self.connect()
        try:
            health = self.get_json(conn, "/api/v1/health")
            spaces = self.get_json(conn, "/api/v1/spaces")
        finally:
            conn.close()
        own = [s for s in spaces if isinstance(s, dict) and s.get("kind") == "user"]
        if not own:
            raise BenchError(f"polaris: no space of kind 'user' in GET /api/v1/spaces: {spaces}")
        self.parent_id = int(own[0]["root_id"])
        return str(health.get("version", ""))

    def get_json(self, conn: http.client.HTTPConnection, path: str) -> Any:
        conn.request("GET", path, headers=self.headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status == 404:
            raise BenchError(
                f"polaris: GET {path} answered 404; this checkout does not have the files API "
                "yet (GET /api/v1/spaces, POST /api/v1/files, GET /api/v1/files/ID/content)"
            )
        if resp.status != 200:
            raise BenchError(f"polaris: GET {path} answered {resp.status}: {body[:300]!r}")
        return json.loads(body)

    def upload_request(self, name: str) -> tuple[str, str]:
        query = urllib.parse.urlencode({"parent_id": self.parent_id, "name": name})
        return "POST", f"/api/v1/files?{query}"

    def accept_upload(
        self, name: str, size: int, status: int, body: bytes, sha256: str | None
    ) -> str:
        if status == 404:
            raise BenchError(
                f"polaris: POST /api/v1/files answered 404 ({body[:200]!r}); this checkout does "
                "not have the upload endpoint yet"
            )
        if status != 201:
            raise BenchError(f"polaris: upload of {name} answered {status}: {body[:300]!r}")
        answer = json.loads(body)
        if answer.get("size") != size:
            raise BenchError(
                f"polaris: upload of {name} stored size {answer.get('size')} != {size}"
            )
        if sha256 is not None and answer.get("sha256") != sha256:
            raise BenchError(
                f"polaris: upload of {name}: sha256 {answer.get('sha256')} != {sha256}"
            )
        return f"/api/v1/files/{int(answer['id'])}/content"


def upload_file(
    conn: http.client.HTTPConnection,
    target: Target,
    name: str,
    path: Path,
    size: int,
    sha256: str | None,
    buf: memoryview,
) -> str:
    """Stream the first `size` bytes of `path` as a request body, in 1 MiB pieces."""
    method, url = target.upload_request(name)
    conn.putrequest(method, url, skip_accept_encoding=True)
    for key, value in target.headers.items():
        conn.putheader(key, value)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    remaining = size
    try:
        with path.open("rb", buffering=0) as source:
            while remaining:
                got = source.readinto(buf[: min(CHUNK, remaining)])
                if not got:
                    raise BenchError(f"{path} is shorter than {size} bytes")
                conn.send(buf[:got])
                remaining -= got
    except OSError as exc:
        # The server may have answered (and closed) before taking the whole body: show why.
        try:
            resp = conn.getresponse()
            answer = (resp.status, resp.read())
        except (OSError, http.client.HTTPException):
            answer = None
        if answer is not None:
            target.accept_upload(name, size, *answer, sha256)
        raise BenchError(f"{target.name}: upload of {name} broke off: {exc}") from exc
    resp = conn.getresponse()
    return target.accept_upload(name, size, resp.status, resp.read(), sha256)


def upload_bytes(conn: http.client.HTTPConnection, target: Target, name: str, data: bytes) -> str:
    """A small upload: headers and body go out in one send (http.client joins bytes bodies)."""
    method, url = target.upload_request(name)
    headers = {**target.headers, "Content-Type": "application/octet-stream"}
    conn.request(method, url, body=data, headers=headers)
    resp = conn.getresponse()
    return target.accept_upload(name, len(data), resp.status, resp.read(), None)


def download(
    conn: http.client.HTTPConnection,
    target: Target,
    url: str,
    buf: memoryview,
    digest: Digest | None = None,
) -> int:
    """GET `url` into the reused buffer; return the byte count (and feed `digest`, if any)."""
    conn.request("GET", url, headers=target.headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise BenchError(f"{target.name}: GET {url} answered {resp.status}: {resp.read()[:300]!r}")
    total = 0
    while got := resp.readinto(buf):
        if digest is not None:
            digest.update(buf[:got])
        total += got
    return total


# --- measurements -------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    client_cpu: float
    server_cpu: float | None


@dataclass
class Measurement:
    """Repeated runs of one transfer; `best` is the fastest run."""

    runs: list[Run]
    nbytes: int
    nfiles: int

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda run: run.seconds)

    def mb_per_s(self, run: Run | None = None) -> float:
        return self.nbytes / (run or self.best).seconds / MB

    def files_per_s(self) -> float:
        return self.nfiles / self.best.seconds


@dataclass
class ServerResult:
    name: str
    version: str = ""
    measurements: dict[str, Measurement] = field(default_factory=dict)
    # size MiB -> (RSS before, peak during upload, peak during download), MiB
    rss: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    pid_note: str = ""


class Timer:
    """Wall clock plus the CPU time of this process (the client) and of the server's tree."""

    def __init__(self, server_pids: list[int] | None) -> None:
        self.server_pids = server_pids

    def __enter__(self) -> Timer:
        self.cpu0 = time.process_time()
        self.srv0 = cpu_seconds(self.server_pids) if self.server_pids else 0.0
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.client_cpu = time.process_time() - self.cpu0
        if self.server_pids:
            self.server_cpu: float | None = cpu_seconds(self.server_pids) - self.srv0
        else:
            self.server_cpu = None

    def run(self) -> Run:
        return Run(self.seconds, self.client_cpu, self.server_cpu)


def settle() -> None:
    """Flush dirty pages so one run's writeback does not land in the next run's time."""
    os.sync()


def bench_large(
    target: Target, data: Dataset, repeat: int, pids: list[int] | None, tag: str
) -> tuple[Measurement, Measurement]:
    buf = memoryview(bytearray(CHUNK))
    conn = target.connect()
    try:
        uploads, url = [], ""
        for attempt in range(repeat):
            settle()
            with Timer(pids) as timer:
                url = upload_file(
                    conn,
                    target,
                    f"{tag}large-r{attempt}.bin",
                    data.large,
                    data.large_size,
                    data.large_sha256,
                    buf,
                )
            uploads.append(timer.run())
            progress(target, "large upload", data.large_size / timer.seconds / MB, "MB/s")
        if target.verify_content:
            check_hash(conn, target, url, data, buf)
        downloads = []
        for _ in range(repeat):
            settle()
            with Timer(pids) as timer:
                got = download(conn, target, url, buf)
            if got != data.large_size:
                raise BenchError(f"{target.name}: downloaded {got} bytes of {data.large_size}")
            downloads.append(timer.run())
            progress(target, "large download", data.large_size / timer.seconds / MB, "MB/s")
    finally:
        conn.close()
    return (
        Measurement(uploads, data.large_size, 1),
        Measurement(downloads, data.large_size, 1),
    )


def check_hash(
    conn: http.client.HTTPConnection, target: Target, url: str, data: Dataset, buf: memoryview
) -> None:
    """One untimed download of the large file, hashed, against the original."""
    digest = hashlib.sha256()
    download(conn, target, url, buf, digest)
    if digest.hexdigest() != data.large_sha256:
        raise BenchError(f"{target.name}: the large file came back different (SHA-256)")


def parallel(
    connect: Callable[[], http.client.HTTPConnection],
    clients: int,
    count: int,
    work: Callable[[http.client.HTTPConnection, int], str],
) -> list[str]:
    """Run `work(conn, index)` for indexes 0..count-1 on `clients` threads, one connection each.

    Connections are opened before the caller's clock starts counting the work (keep-alive
    clients are warm); a barrier lets all threads start together. Returns the results in
    index order.
    """
    barrier = threading.Barrier(clients + 1)
    results: list[str] = [""] * count

    def worker(first: int) -> None:
        try:
            conn = connect()
        except BaseException:
            barrier.abort()
            raise
        try:
            barrier.wait()
            for index in range(first, count, clients):
                results[index] = work(conn, index)
        finally:
            conn.close()

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(worker, first) for first in range(clients)]
        try:
            barrier.wait(timeout=60)
        finally:
            # Re-raises the first worker error, including one that broke the barrier.
            for future in futures:
                future.result()
    return results


def bench_small(
    target: Target, data: Dataset, clients: int, repeat: int, pids: list[int] | None
) -> tuple[Measurement, Measurement]:
    nfiles, nbytes = len(data.small), data.small_bytes
    uploads, urls = [], []
    for attempt in range(repeat):

        def put(conn: http.client.HTTPConnection, index: int, attempt: int = attempt) -> str:
            return upload_bytes(
                conn, target, f"small-r{attempt}-{index:05d}.bin", data.small[index]
            )

        settle()
        with Timer(pids) as timer:
            urls = parallel(target.connect, clients, nfiles, put)
        uploads.append(timer.run())
        progress(target, "small upload", nfiles / timer.seconds, "files/s")
    if target.verify_content:
        check_small(target, data, urls)
    buffers = threading.local()

    def get(conn: http.client.HTTPConnection, index: int) -> str:
        if not hasattr(buffers, "buf"):
            buffers.buf = memoryview(bytearray(CHUNK))
        got = download(conn, target, urls[index], buffers.buf)
        if got != len(data.small[index]):
            raise BenchError(f"{target.name}: {urls[index]} gave {got} bytes")
        return ""

    downloads = []
    for _ in range(repeat):
        settle()
        with Timer(pids) as timer:
            parallel(target.connect, clients, nfiles, get)
        downloads.append(timer.run())
        progress(target, "small download", nfiles / timer.seconds, "files/s")
    return Measurement(uploads, nbytes, nfiles), Measurement(downloads, nbytes, nfiles)


def check_small(target: Target, data: Dataset, urls: Sequence[str]) -> None:
    """Untimed: the first few small files come back byte for byte."""
    conn = target.connect()
    try:
        for index in range(min(3, len(urls))):
            conn.request("GET", urls[index], headers=target.headers)
            resp = conn.getresponse()
            if resp.status != 200 or resp.read() != data.small[index]:
                raise BenchError(f"{target.name}: small file {index} came back different")
    finally:
        conn.close()


def probe(target: Target) -> None:
    """One small untimed upload and download: warms the server up, fails early and clearly."""
    conn = target.connect()
    try:
        url = upload_bytes(conn, target, "probe.bin", b"probe\n")
        got = download(conn, target, url, memoryview(bytearray(CHUNK)))
        if target.verify_content and got != len(b"probe\n"):
            raise BenchError(f"{target.name}: probe download gave {got} bytes")
    finally:
        conn.close()


def bench_rss(
    target: Target, server: PolarisServer, data: Dataset, size_mib: int
) -> dict[int, tuple[float, float, float]]:
    """Peak RSS of the serving process during one upload and one download of each size."""
    pid = server.server_pid()
    buf = memoryview(bytearray(CHUNK))
    rss: dict[int, tuple[float, float, float]] = {}
    conn = target.connect()
    try:
        for mib in rss_sizes_mib(size_mib):
            size = mib * MIB
            settle()
            before = status_kib(pid, "VmRSS") / 1024
            reset_peak_rss(pid)
            url = upload_file(
                conn, target, f"rss-{mib}mib.bin", data.large, size, data.prefix_sha256[size], buf
            )
            up = status_kib(pid, "VmHWM") / 1024
            reset_peak_rss(pid)
            download(conn, target, url, buf)
            down = status_kib(pid, "VmHWM") / 1024
            rss[mib] = (before, up, down)
            print(f"  polaris RSS {mib} MiB: before {before:.0f}, peak up {up:.0f}, "
                  f"down {down:.0f} MiB", file=sys.stderr)  # fmt: skip
    finally:
        conn.close()
    return rss


def progress(target: Target, what: str, value: float, unit: str) -> None:
    print(f"  {target.name} {what}: {value:,.1f} {unit}", file=sys.stderr)


# --- running each server ------------------------------------------------------------------------


def measure(
    target: Target, data: Dataset, args: argparse.Namespace, pids: list[int] | None, tag: str = ""
) -> dict[str, Measurement]:
    probe(target)
    large_up, large_down = bench_large(target, data, args.repeat_large, pids, tag)
    small_up, small_down = bench_small(target, data, args.clients, args.repeat, pids)
    return {
        "large_up": large_up,
        "large_down": large_down,
        "small_up": small_up,
        "small_down": small_down,
    }


def run_polaris(work: Path, data: Dataset, args: argparse.Namespace) -> ServerResult:
    with PolarisServer(work, args.polaris_bin, args.polaris_workers) as server:
        assert isinstance(server, PolarisServer)
        target = PolarisTarget(server.port, server.token)
        result = ServerResult("Polaris", target.find_user_space())
        pid = server.server_pid()
        result.pid_note = (
            f"pid {pid}, the `polaris serve` process itself"
            if pid == server.pid
            else f"pid {pid}, a child of `polaris serve` (pid {server.pid})"
        )
        print(f"polaris on port {server.port}, {result.pid_note}", file=sys.stderr)
        if args.polaris_workers > 1:
            result.pid_note += f"; {args.polaris_workers} worker processes"
            result.measurements = measure(target, data, args, server.tree_pids())
        else:
            result.measurements = measure(target, data, args, [pid])
            result.rss = bench_rss(target, server, data, args.size_mib)
    return result


def run_peer(name: str, work: Path, data: Dataset, args: argparse.Namespace) -> ServerResult:
    server_cls: type[NginxServer | RcloneServer] = NginxServer if name == "nginx" else RcloneServer
    with server_cls(work, work / "root") as server:
        print(f"{name} on port {server.port}", file=sys.stderr)
        target = DavTarget(name, server.port)
        result = ServerResult(name, server.version())
        result.measurements = measure(target, data, args, process_tree(server.pid))
    return result


def run_ceiling(work: Path, data: Dataset, args: argparse.Namespace) -> ServerResult:
    """The client against the null sink: how fast the client alone moves the large file."""
    with SinkServer(work) as server:
        target = SinkTarget(server.port)
        up, down = bench_large(target, data, args.repeat_large, [server.pid], "")
    return ServerResult("client alone", measurements={"large_up": up, "large_down": down})


# --- report -------------------------------------------------------------------------------------


ROWS = (
    ("large_up", "upload", "MB/s"),
    ("large_down", "download", "MB/s"),
    ("small_up", "upload", "files/s"),
    ("small_up", "upload", "MB/s"),
    ("small_down", "download", "files/s"),
    ("small_down", "download", "MB/s"),
)


def value(result: ServerResult | None, key: str, unit: str) -> float | None:
    if result is None or key not in result.measurements:
        return None
    m = result.measurements[key]
    return m.files_per_s() if unit == "files/s" else m.mb_per_s()


def goal_for(key: str) -> list[tuple[str, float]]:
    """The issue's goals: peer and minimum ratio Polaris/peer."""
    goals = [("rclone", 1.0)]
    if key == "large_down":
        goals.insert(0, ("nginx", 0.8))
    return goals


def fmt(number: float | None, digits: int = 0) -> str:
    return "–" if number is None else f"{number:,.{digits}f}"


def main_table(results: dict[str, ServerResult], args: argparse.Namespace) -> list[str]:
    pol, ngx, rcl = (results.get(name) for name in PEERS)
    lines = [
        "| transfer | Polaris | nginx | rclone | Polaris/nginx | Polaris/rclone | goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for key, direction, unit in ROWS:
        what = (
            f"{args.size_mib} MiB file, {direction}"
            if key.startswith("large")
            else f"{args.files} × {args.file_kib} KiB, {args.clients} clients, {direction}"
        )
        p, n, r = (value(res, key, unit) for res in (pol, ngx, rcl))
        ratios = {"nginx": ratio(p, n), "rclone": ratio(p, r)}
        goals = [
            f"≥ {minimum:g}× {peer}{verdict(ratios[peer], minimum)}"
            for peer, minimum in goal_for(key)
        ]
        lines.append(
            f"| {what}, {unit} | {fmt(p)} | {fmt(n)} | {fmt(r)} | "
            f"{fmt_ratio(ratios['nginx'])} | {fmt_ratio(ratios['rclone'])} | {'; '.join(goals)} |"
        )
    return lines


def verdict(measured: float | None, minimum: float) -> str:
    if measured is None:
        return ""
    return " met" if measured >= minimum else " MISSED"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}×"


def detail_table(results: dict[str, ServerResult]) -> list[str]:
    lines = [
        "| server | transfer | runs (MB/s) | best | client CPU | server CPU |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for result in results.values():
        for key, m in result.measurements.items():
            best = m.best
            runs = ", ".join(fmt(m.mb_per_s(run), 1) for run in m.runs)
            server_cpu = None if best.server_cpu is None else best.server_cpu / best.seconds * 100
            lines.append(
                f"| {result.name} | {key.replace('_', ' ')} | {runs} | {fmt(m.mb_per_s(), 1)} | "
                f"{best.client_cpu / best.seconds * 100:.0f} % | {fmt(server_cpu)} % |"
            )
    return lines


def rss_table(result: ServerResult) -> list[str]:
    lines = [
        "| upload size | RSS before, MiB | peak RSS uploading, MiB | peak RSS downloading, MiB |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for mib, (before, up, down) in result.rss.items():
        lines.append(f"| {mib} MiB | {before:.0f} | {up:.0f} | {down:.0f} |")
    sizes = sorted(result.rss)
    if len(sizes) > 1:
        growth = result.rss[sizes[-1]][1] - result.rss[sizes[0]][1]
        flat = "met" if growth <= RSS_FLAT_SLACK_MIB else "MISSED"
        lines.append("")
        lines.append(
            f"Peak RSS uploading {sizes[-1]} MiB vs {sizes[0]} MiB: {growth:+.0f} MiB "
            f"(goal: flat in file size, within {RSS_FLAT_SLACK_MIB} MiB: {flat})."
        )
    return lines


def machine_info(results: dict[str, ServerResult]) -> list[str]:
    cpus = os.cpu_count()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    versions = ", ".join(f"{r.name} {r.version}" for r in results.values() if r.version)
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpus} CPUs ({model}), {mem_gib:.0f} GiB RAM, Linux {platform.release()}; "
        f"the client and the server under test share these {cpus} CPUs",
        f"- client: Python {platform.python_version()}; servers: {versions}",
        f"- command: `{' '.join(['bench/transfer.py', *sys.argv[1:]])}`",
    ]


def report(results: dict[str, ServerResult], args: argparse.Namespace) -> None:
    ceiling = results.pop("client alone", None)
    out = [
        f"### Transfer throughput ({datetime.date.today():%Y-%m-%d})",
        "",
        *machine_info(results),
        "",
        *main_table(results, args),
        "",
        f"Best of {args.repeat_large} runs for the large file, of {args.repeat} for the small "
        "ones. MB = 10^6 bytes. Polaris: SQLite, local blob store, encryption on "
        "(`polaris init` defaults). nginx: static GET, dav PUT, sendfile, worker_processes "
        "auto. rclone: `serve webdav`, default flags. One client for all: Python http.client, "
        "keep-alive, one connection per thread, 1 MiB reads into a reused buffer; files are "
        "served from the page cache and `sync` runs before each timed run.",
    ]
    if ceiling is not None:
        up, down = (value(ceiling, key, "MB/s") for key in ("large_up", "large_down"))
        out += [
            "",
            f"Client alone (null sink in another process, same client code): {args.size_mib} MiB "
            f"upload {fmt(up)} MB/s, download {fmt(down)} MB/s.",
        ]
    if "polaris" in results and results["polaris"].rss:
        out += ["", f"Polaris peak RSS ({results['polaris'].pid_note}; VmHWM after clear_refs):"]
        out += ["", *rss_table(results["polaris"])]
    if ceiling is not None:
        results["client alone"] = ceiling
    out += [
        "",
        "<details><summary>All runs (CPU: share of one CPU during the best run)</summary>",
        "",
        *detail_table(results),
        "",
        "A client CPU near 100 % means the client (Python threads share one GIL) limited "
        "that run, not the server: a peer's figure limited this way understates the peer, "
        "so Polaris's ratio against it flatters Polaris.",
        "",
        "</details>",
    ]
    print("\n".join(out))


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="large file size (1024)")
    parser.add_argument("--files", type=int, default=2000, help="number of small files (2000)")
    parser.add_argument("--file-kib", type=int, default=16, help="small file size (16)")
    parser.add_argument("--clients", type=int, default=8, help="parallel clients (8)")
    parser.add_argument(
        "--polaris-workers",
        type=int,
        default=1,
        help="`polaris serve --workers` (1; with more, peak RSS is not measured)",
    )
    parser.add_argument(
        "--only", default=",".join(PEERS), help="servers to run, of polaris,nginx,rclone"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of the small files (3)")
    parser.add_argument("--repeat-large", type=int, default=2, help="runs of the large file (2)")
    parser.add_argument(
        "--polaris-bin", type=Path, default=REPO / ".venv" / "bin" / "polaris", help="polaris CLI"
    )
    parser.add_argument("--tmp", type=Path, default=None, help="where to make the temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (for debugging)")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(PEERS)
    if unknown or not args.only:
        parser.error(f"--only takes a comma-separated subset of {','.join(PEERS)}")
    if min(args.size_mib, args.files, args.file_kib, args.clients, args.repeat) < 1:
        parser.error("sizes, counts and repeats must be at least 1")
    if args.repeat_large < 1:
        parser.error("--repeat-large must be at least 1")
    return args


def run(args: argparse.Namespace) -> dict[str, ServerResult]:
    ensure_debian_packages([name for name in ("nginx", "rclone") if name in args.only])
    if "polaris" in args.only and not args.polaris_bin.exists():
        raise BenchError(f"{args.polaris_bin} not found; install Polaris into .venv first")
    results: dict[str, ServerResult] = {}
    with temp_tree(args.tmp, args.keep) as tmp:
        print(f"writing test files in {tmp}", file=sys.stderr)
        data = make_dataset(tmp / "files", args.size_mib, args.files, args.file_kib)
        # Polaris first: if its API is missing, say so before spending time on the peers.
        for name in (name for name in PEERS if name in args.only):
            print(f"== {name}", file=sys.stderr)
            if name == "polaris":
                results[name] = run_polaris(tmp / name, data, args)
            else:
                results[name] = run_peer(name, tmp / name, data, args)
        print("== client alone", file=sys.stderr)
        results["client alone"] = run_ceiling(tmp / "sink", data, args)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, http.client.HTTPException) as exc:
        print(f"error: connection failed: {exc!r} (run with --keep to read the server logs)",
              file=sys.stderr)  # fmt: skip
        return 2
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
