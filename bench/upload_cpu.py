"""Server CPU of a small upload, REST and WebDAV, two builds alternated on the same machine.

A fresh instance a run (``tests.dav.conftest.build``: SQLite, encryption on, WebDAV on), served by
``polaris serve`` with ``PYTHONPATH`` at one build's ``src``; ``--files`` uploads of ``--kib`` KiB
by ``--clients`` threads (keep-alive, one connection a thread) through ``POST /api/v1/files``,
then as many through a WebDAV ``PUT`` to ``/dav/hc.a1/``. For each it prints the server's CPU
(user + system of its process tree, from ``/proc``) an upload while the requests ran, and
including the work they cause afterwards (change-stream consumers, index passes, scan hand-off),
read once the server's CPU has stopped rising. With ``--compare OTHER/src`` the two builds run
alternately, ``--pairs`` times each: on a shared machine only such side-by-side ratios mean
anything.

    PYTHONPATH=src .venv/bin/python bench/upload_cpu.py --files 600 \\
        --compare /work/wt/upload-base/src --pairs 2
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dav.conftest import build  # noqa: E402
from tests.live_server import Server  # noqa: E402

USER = "hc.a1"


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its children still running."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(entry.name))
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def settled_cpu(pid: int) -> float:
    """The server's CPU once it has stopped rising (its background work done)."""
    last = tree_cpu(pid)
    quiet = 0
    while quiet < 3:
        time.sleep(0.5)
        now = tree_cpu(pid)
        quiet = quiet + 1 if now - last < 0.01 else 0
        last = now
    return last


def token_for(data_dir: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [
            *(str(ROOT / ".venv/bin/polaris"), "token", "create", USER, "--name", "bench"),
            *("--scope", "read", "--scope", "write", "--data-dir", str(data_dir)),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()][-1]


def parallel(port: int, clients: int, count: int, send: object) -> None:
    errors: list[str] = []

    def worker(first: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for index in range(first, count, clients):
            status = send(conn, index)  # type: ignore[operator]
            if status not in (200, 201, 204):
                errors.append(f"{index}: {status}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} uploads failed, e.g. {errors[:3]}")


@dataclass
class Result:
    build: str
    figures: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.figures.setdefault(key, []).append(value)


def run_once(src: Path, args: argparse.Namespace, work: Path, result: Result) -> None:
    env = {**os.environ, "PYTHONPATH": str(src)}
    data_dir = work / "instance"
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(src)
    try:
        secrets = build(data_dir)
        token = token_for(data_dir, env)
        server = Server(data_dir, env={"POLARIS_DAV__ALLOW_PLAIN_HTTP": "true"})
        server.start()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    try:
        assert server.process is not None
        pid = server.process.pid
        bearer = {"Authorization": f"Bearer {token}"}
        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        conn.request("GET", "/api/v1/spaces", headers=bearer)
        spaces = json.loads(conn.getresponse().read())
        root = next(s["root_id"] for s in spaces if s["kind"] == "user")
        body = os.urandom(args.kib * 1024)
        basic = base64.b64encode(f"{USER}:{secrets[USER]}".encode()).decode()

        def rest(conn: http.client.HTTPConnection, index: int) -> int:
            conn.request(
                "POST",
                f"/api/v1/files?parent_id={root}&name=r{index:05}.bin",
                body=body[:-8] + index.to_bytes(8, "big"),
                headers={**bearer, "Content-Type": "application/octet-stream"},
            )
            response = conn.getresponse()
            response.read()
            return response.status

        def dav(conn: http.client.HTTPConnection, index: int) -> int:
            conn.request(
                "PUT",
                f"/dav/{USER}/d{index:05}.bin",
                body=body[:-8] + (index + 10**9).to_bytes(8, "big"),
                headers={"Authorization": f"Basic {basic}"},
            )
            response = conn.getresponse()
            response.read()
            return response.status

        for kind, send in (("rest", rest), ("dav", dav)):
            settled_cpu(pid)
            spy = None
            if args.py_spy is not None:
                out = (
                    args.py_spy
                    / f"{result.build}-{kind}-{len(result.figures.get('rest files/s', []))}"
                )
                spy = subprocess.Popen(
                    [
                        *(str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(pid)),
                        *("--threads", "--nonblocking", "--format", "raw", "--rate", "100"),
                        *("-o", f"{out}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1)  # py-spy attaches
            start_cpu, start = tree_cpu(pid), time.perf_counter()
            parallel(server.port, args.clients, args.files, send)
            wall = time.perf_counter() - start
            if spy is not None:
                spy.send_signal(2)
                spy.wait()
            requests_cpu = tree_cpu(pid) - start_cpu
            total_cpu = settled_cpu(pid) - start_cpu
            result.add(f"{kind} files/s", args.files / wall)
            result.add(f"{kind} request CPU ms", 1000 * requests_cpu / args.files)
            result.add(f"{kind} total CPU ms", 1000 * total_cpu / args.files)
            print(
                f"{result.build} {kind}: {args.files / wall:.0f} files/s, "
                f"{1000 * requests_cpu / args.files:.2f} ms CPU an upload during, "
                f"{1000 * total_cpu / args.files:.2f} with the work after "
                f"(load {os.getloadavg()[0]:.1f})",
                file=sys.stderr,
            )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--kib", type=int, default=16)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--compare", type=Path, default=None, help="another build's src")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--tmp", type=Path, default=None)
    parser.add_argument("--py-spy", type=Path, default=None, help="folder for py-spy profiles")
    args = parser.parse_args()
    builds = [("this", ROOT / "src")]
    if args.compare is not None:
        builds.insert(0, ("other", args.compare.resolve()))
    results = {name: Result(name) for name, _ in builds}
    print(f"start {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    for _ in range(args.pairs):
        for name, src in builds:
            work = Path(tempfile.mkdtemp(prefix="upload-cpu-", dir=args.tmp))
            try:
                run_once(src, args, work, results[name])
            finally:
                shutil.rmtree(work, ignore_errors=True)
    print(f"end {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    keys = list(results[builds[0][0]].figures)
    print("| figure | " + " | ".join(f"{name} (runs; median)" for name, _ in builds) + " |")
    print("|---|" + "---:|" * len(builds))
    for key in keys:
        cells = []
        for name, _ in builds:
            values = results[name].figures[key]
            listed = ", ".join(f"{v:.1f}" for v in values)
            cells.append(f"{listed}; **{statistics.median(values):.1f}**")
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
