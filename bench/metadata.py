"""Latency of the metadata requests with one client: p50 and p95, and the server's CPU a request.

Run by hand (never in CI), from the repository root:

    PYTHONPATH=src .venv/bin/python bench/metadata.py                 # 10,000 files, 2,000 rounds
    PYTHONPATH=src .venv/bin/python bench/metadata.py --files 500 --rounds 300   # smoke test

It starts a fresh `polaris serve` (`polaris init --demo`: SQLite, local blob store), fills one
folder with ``--files`` empty files through the API (8 clients), then times, one request at a
time on one keep-alive connection: ``GET /api/v1/nodes/{id}`` (a file in that folder),
``GET /api/v1/spaces`` and ``GET /api/v1/nodes/{folder}/children`` (the first page, 100 items).
The kinds are interleaved round by round, so that load from elsewhere on the machine falls on
all of them alike. Server CPU (user + system from ``/proc``) a request is printed beside the
latencies: on a shared machine it moves much less than the wall clock.

``--keep`` keeps the filled instance and ``--reuse DIR`` times it again without filling;
``--compare SRC`` serves the same instance alternately from this checkout and from another
checkout's ``src`` (``PYTHONPATH``), for a before/after in one run.

Targets (issue 12): node GET and spaces p50 <= 1.5 ms; one page of the 10,000-file folder
<= 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib_peers import PolarisServer, cpu_seconds, temp_tree

REPO = Path(__file__).resolve().parent.parent
TARGETS_MS = {"node": 1.5, "spaces": 1.5, "children": 20.0}


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
) -> Any:
    if body is not None:
        conn.request(
            method,
            path,
            body=json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
        )
    else:
        conn.request(method, path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status not in (200, 201):
        raise RuntimeError(f"{method} {path}: {response.status} {body[:200]!r}")
    return json.loads(body)


def fill(port: int, headers: dict[str, str], folder: int, files: int, clients: int) -> int:
    """Upload ``files`` empty files into ``folder``; the id of the first."""

    def worker(first: int) -> list[int]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        ids = []
        for index in range(first, files, clients):
            query = urllib.parse.urlencode({"parent_id": folder, "name": f"f{index:06d}.txt"})
            conn.request("POST", f"/api/v1/files?{query}", body=b"", headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 201:
                raise RuntimeError(f"upload {index}: {response.status} {body[:200]!r}")
            ids.append(int(json.loads(body)["id"]))
        conn.close()
        return ids

    with ThreadPoolExecutor(clients) as pool:
        made = [node for ids in pool.map(worker, range(clients)) for node in ids]
    return min(made)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def prepare(server: PolarisServer, files: int, clients: int) -> dict[str, str]:
    """Fill the folder (a new instance) or read what a former run filled (``--reuse``)."""
    ids_file = server.workdir / "ids.json"
    if server.reuse:
        paths: dict[str, str] = json.loads(ids_file.read_text())
        return paths
    headers = {"Authorization": f"Bearer {server.token}"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    spaces = request(conn, "GET", "/api/v1/spaces", headers)
    root = int(next(s for s in spaces if s.get("kind") == "user")["root_id"])
    folder = int(
        request(conn, "POST", f"/api/v1/nodes/{root}/folders", headers, {"name": "big"})["id"]
    )
    conn.close()
    started = time.perf_counter()
    node = fill(server.port, headers, folder, files, clients)
    print(f"filled {files} files in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    paths = {
        "node": f"/api/v1/nodes/{node}",
        "spaces": "/api/v1/spaces",
        "children": f"/api/v1/nodes/{folder}/children?limit=100",
    }
    ids_file.write_text(json.dumps(paths))
    return paths


def measure(
    server: PolarisServer, paths: dict[str, str], rounds: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Wall times (ms) of every request by kind, and the server's CPU seconds by kind."""
    headers = {"Authorization": f"Bearer {server.token}"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    for path in paths.values():  # warm up: caches, compiled statements
        for _ in range(20):
            request(conn, "GET", path, headers)
    times: dict[str, list[float]] = {kind: [] for kind in paths}
    cpu: dict[str, float] = dict.fromkeys(paths, 0.0)
    pid = server.server_pid()
    for _ in range(rounds):
        for kind, path in paths.items():
            before_cpu = cpu_seconds([pid])
            before = time.perf_counter()
            request(conn, "GET", path, headers)
            times[kind].append((time.perf_counter() - before) * 1000)
            cpu[kind] += cpu_seconds([pid]) - before_cpu
    conn.close()
    return times, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=8, help="clients that fill the folder")
    parser.add_argument(
        "--polaris-bin", type=Path, default=REPO / ".venv" / "bin" / "polaris", help="polaris CLI"
    )
    parser.add_argument("--tmp", type=Path, default=None, help="where the temp dir goes")
    parser.add_argument("--keep", action="store_true", help="keep the instance (for --reuse)")
    parser.add_argument(
        "--reuse", type=Path, default=None, help="time the instance a --keep run left in DIR"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="also serve the same instance from this other checkout's src/ (PYTHONPATH), the "
        "two builds alternately, --pairs times each",
    )
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument(
        "--compare-dir",
        type=Path,
        default=None,
        help="with --compare and --reuse: a copy of the instance at the other build's schema, "
        "for the other build (an older build refuses a database migrated past it)",
    )
    args = parser.parse_args()
    builds: dict[str, dict[str, str]] = {"this": {}}
    if args.compare is not None:
        builds = {"other": {"PYTHONPATH": str(args.compare.resolve())}, **builds}
    runs = args.pairs if args.compare is not None else 1
    load = os.getloadavg()[0]
    results: dict[str, list[tuple[dict[str, list[float]], dict[str, float]]]] = {
        name: [] for name in builds
    }
    with contextlib.ExitStack() as stack:
        if args.reuse is not None:
            workdir = args.reuse
        else:
            workdir = stack.enter_context(temp_tree(args.tmp, args.keep)) / "polaris"
        reuse = args.reuse is not None
        paths: dict[str, str] = {}
        for _ in range(runs):
            for name, env in builds.items():
                where = workdir
                if name == "other" and args.compare_dir is not None:
                    where = args.compare_dir
                server = PolarisServer(where, args.polaris_bin, reuse=reuse)
                server.env = env
                with server:
                    if not paths:
                        paths = prepare(server, args.files, args.clients)
                    reuse = True
                    results[name].append(measure(server, paths, args.rounds))
    print(f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{args.files} files, {args.rounds} rounds, one client")  # fmt: skip
    print()
    print(
        "| build | run | request | p50 ms | p95 ms | mean ms | server CPU ms/request | target p50 |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for name, measured in results.items():
        for run, (times, cpu) in enumerate(measured, 1):
            for kind, values in times.items():
                p50 = statistics.median(values)
                verdict = "met" if p50 <= TARGETS_MS[kind] else "missed"
                print(
                    f"| {name} | {run} | `GET {paths[kind]}` | {p50:.2f} | "
                    f"{percentile(values, 0.95):.2f} | {statistics.fmean(values):.2f} | "
                    f"{cpu[kind] / args.rounds * 1000:.2f} | "
                    f"<= {TARGETS_MS[kind]:g} ms {verdict} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
