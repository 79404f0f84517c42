"""Servers for the benchmarks: Polaris, nginx, rclone and a null sink, each as a subprocess.

Every server runs in a temporary directory of its own, on a free port of 127.0.0.1, with its
logs in that directory, and is stopped by the context manager that started it. Nothing here
uses systemctl or the system's configuration: nginx gets a generated config (`nginx -c -p`),
rclone an empty config file.

Run as a script, this module is the null sink (`python lib_peers.py sink --port P`): a bare
HTTP/1.1 server that discards request bodies and answers `GET /bytes/N` with N bytes. The
transfer benchmark uses it to measure what its client alone can push.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

CHUNK = 1 << 20
POLL_SECONDS = 0.1


class BenchError(Exception):
    """A setup or protocol problem that ends the benchmark with a clear message."""


# --- processes and /proc ----------------------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_checked(cmd: list[str], *, log: Path | None = None) -> str:
    """Run a command to completion and return its stdout; fail with its output otherwise."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if log is not None:
        with log.open("a") as out:
            out.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        raise BenchError(
            f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stdout}{proc.stderr}".rstrip()
        )
    return proc.stdout


def ensure_debian_packages(names: list[str]) -> None:
    """Install the Debian packages that are missing (the benchmark machine runs as root)."""
    missing = [name for name in names if not _dpkg_installed(name)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchError(
            f"missing Debian packages {missing}; run: apt-get install {' '.join(missing)}"
        )
    print(f"installing Debian packages: {' '.join(missing)}", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BenchError(f"`{' '.join(cmd)}` failed:\n{proc.stdout}{proc.stderr}")


def _dpkg_installed(name: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and proc.stdout.strip() == "install ok installed"


def listening_pids(port: int) -> list[int]:
    """Pids of the processes holding the socket that listens on 127.0.0.1:`port` (IPv4)."""
    inodes = set()
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":  # 0A = TCP_LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        pids.append(int(entry.name))
                        break
    return sorted(pids)


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (nginx's workers are children of its master)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int(_stat_fields(int(entry.name))[1])
                children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (field 3, `state`, comes first)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time used so far by the live processes in `pids`."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, field: str) -> int:
    """A `kB` figure from /proc/PID/status, e.g. VmHWM (peak RSS) or VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/{pid}/status")


def reset_peak_rss(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: "5" to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# --- readiness ----------------------------------------------------------------------------------


def wait_for_http(
    proc: subprocess.Popen[bytes],
    port: int,
    path: str,
    *,
    log: Path,
    want_status: int | None = None,
    timeout: float = 60.0,
) -> None:
    """Poll `GET path` until the server answers (with `want_status`, if given).

    Polling is the only waiting the benchmarks do: start-up has no other signal.
    """
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{cmdline(proc)} exited {proc.returncode} at start-up:\n{tail(log)}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if want_status is None or resp.status == want_status:
                return
            last = f"HTTP {resp.status}"
        except OSError as exc:
            last = str(exc)
        finally:
            conn.close()
        time.sleep(POLL_SECONDS)
    raise BenchError(f"{cmdline(proc)} not ready after {timeout:.0f} s ({last}):\n{tail(log)}")


def cmdline(proc: subprocess.Popen[bytes]) -> str:
    args = proc.args
    return " ".join(map(str, args)) if isinstance(args, list) else str(args)


def tail(log: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


# --- servers ----------------------------------------------------------------------------------


class Server:
    """A server subprocess in its own work directory; a context manager that stops it."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log = workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        #: Extra environment for the server process (e.g. ``PYTHONPATH`` of another build).
        self.env: dict[str, str] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_path(self) -> tuple[str, int | None]:
        """Path to poll at start-up and the status it must answer (None: any)."""
        return "/", None

    def prepare(self) -> None:
        """Work to do before the server starts (configs, instances)."""

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env else None,
            )
        path, status = self.ready_path()
        wait_for_http(self.proc, self.port, path, log=self.log, want_status=status)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def version(self) -> str:
        return ""


class NginxServer(Server):
    """nginx serving `root` statically, with the dav module's PUT writing into it."""

    name = "nginx"

    def __init__(self, workdir: Path, root: Path) -> None:
        super().__init__(workdir)
        self.root = root
        self.conf = workdir / "nginx.conf"

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.workdir / "client_body").mkdir(exist_ok=True)
        self.conf.write_text(self.config())
        # Fails with a clear message if, say, the dav module is missing from this build.
        run_checked(["nginx", "-t", "-q", "-c", str(self.conf), "-p", str(self.workdir)])

    def config(self) -> str:
        w = self.workdir
        # As root, the workers would run as nobody and could not write into a 0700 temp dir.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return f"""{user}daemon off;
worker_processes auto;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path {w}/client_body;
    proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi;
    uwsgi_temp_path {w}/uwsgi;
    scgi_temp_path {w}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        location / {{
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"""

    def command(self) -> list[str]:
        return ["nginx", "-c", str(self.conf), "-p", str(self.workdir)]

    def version(self) -> str:
        proc = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
        return proc.stderr.strip().removeprefix("nginx version: ")


class RcloneServer(Server):
    """`rclone serve webdav` on a local directory, with default flags."""

    name = "rclone"

    def __init__(self, workdir: Path, root: Path) -> None:
        super().__init__(workdir)
        self.root = root
        self.rclone_conf = workdir / "rclone.conf"

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.rclone_conf.touch()

    def command(self) -> list[str]:
        return [
            "rclone",
            "serve",
            "webdav",
            str(self.root),
            "--addr",
            f"127.0.0.1:{self.port}",
            "--config",
            str(self.rclone_conf),
        ]

    def version(self) -> str:
        out = subprocess.run(["rclone", "version"], capture_output=True, text=True, check=False)
        first = out.stdout.splitlines()[0] if out.stdout else ""
        return first.removeprefix("rclone ").strip()


class PolarisServer(Server):
    """A fresh Polaris instance (`polaris init --demo`, SQLite, local encrypted blob store)."""

    name = "polaris"
    user = "ct.kotwali"

    def __init__(
        self, workdir: Path, polaris_bin: Path, workers: int = 1, *, reuse: bool = False
    ) -> None:
        super().__init__(workdir)
        self.polaris_bin = polaris_bin
        self.workers = workers
        self.data_dir = workdir / "data"
        self.token = ""
        self.server_version = ""
        #: Serve the instance and token a former run left in ``workdir`` (``token.txt``).
        self.reuse = reuse

    def prepare(self) -> None:
        token_file = self.workdir / "token.txt"
        if self.reuse:
            self.token = token_file.read_text().strip()
            return
        bin_ = str(self.polaris_bin)
        setup_log = self.workdir / "setup.log"
        run_checked([bin_, "init", str(self.data_dir), "--demo"], log=setup_log)
        out = run_checked(
            [
                bin_,
                "token",
                "create",
                self.user,
                "--name",
                "bench",
                "--scope",
                "read",
                "--scope",
                "write",
                "--data-dir",
                str(self.data_dir),
            ]
        )
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        if not lines:
            raise BenchError("`polaris token create` printed no token")
        self.token = lines[-1]
        token_file.write_text(self.token + "\n")

    def command(self) -> list[str]:
        return [
            str(self.polaris_bin),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]

    def ready_path(self) -> tuple[str, int | None]:
        return "/api/v1/health", 200

    def tree_pids(self) -> list[int]:
        """`polaris serve` and every process below it (the workers of `--workers N`)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                        int(entry.name)
                    )
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def server_pid(self) -> int:
        """The pid that serves HTTP (uvicorn runs inside `polaris serve` unless it forks)."""
        pids = listening_pids(self.port)
        if self.pid in pids or not pids:
            return self.pid
        return pids[0]

    def version(self) -> str:
        return self.server_version


class SinkServer(Server):
    """The null sink from this module, in a separate process (see the module docstring)."""

    name = "sink"

    def command(self) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "sink", "--port", str(self.port)]

    def ready_path(self) -> tuple[str, int | None]:
        return "/bytes/0", 200


@contextlib.contextmanager
def temp_tree(base: Path | None, keep: bool) -> Iterator[Path]:
    """A fresh temporary directory, removed at the end unless `keep`."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="polaris-bench-", dir=base))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


# --- the null sink --------------------------------------------------------------------------


class _SinkHandler(socketserver.BaseRequestHandler):
    """Bare HTTP/1.1 with keep-alive: enough for the benchmark's own client, nothing more."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = memoryview(bytearray(os.urandom(CHUNK)))
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                data = sock.recv(65536)
                if not data:
                    return
                pending += data
            head, _, pending = pending.partition(b"\r\n\r\n")
            method, target, length = _parse_head(head)
            taken = min(len(pending), length)
            pending = pending[taken:]
            remaining = length - taken
            while remaining:
                got = sock.recv_into(buf, min(remaining, CHUNK))
                if not got:
                    return
                remaining -= got
            if method == "GET" and target.startswith("/bytes/"):
                self._send_bytes(sock, buf, int(target.removeprefix("/bytes/")))
            elif method in ("PUT", "POST"):
                sock.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            else:
                sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    @staticmethod
    def _send_bytes(sock: socket.socket, buf: memoryview, size: int) -> None:
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            + f"Content-Length: {size}\r\n\r\n".encode()
        )
        while size:
            piece = min(size, CHUNK)
            sock.sendall(buf[:piece])
            size -= piece


def _parse_head(head: bytes) -> tuple[str, str, int]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length":
            length = int(value)
    return method, target, length


class _SinkServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def _serve_sink(port: int) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with _SinkServer(("127.0.0.1", port), _SinkHandler) as server:
        server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sink = sub.add_parser("sink", help="run the null sink")
    sink.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.command == "sink":
        _serve_sink(args.port)


if __name__ == "__main__":
    main()
