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

Targets (issue 12): node GET and spaces p50 <= 1.5 ms; one page of the 10,000-file folder
<= 20 ms.
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=8, help="clients that fill the folder")
    parser.add_argument(
        "--polaris-bin", type=Path, default=REPO / ".venv" / "bin" / "polaris", help="polaris CLI"
    )
    args = parser.parse_args()
    with temp_tree(None, False) as tmp, PolarisServer(tmp / "polaris", args.polaris_bin) as server:
        assert isinstance(server, PolarisServer)
        headers = {"Authorization": f"Bearer {server.token}"}
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        spaces = request(conn, "GET", "/api/v1/spaces", headers)
        root = int(next(s for s in spaces if s.get("kind") == "user")["root_id"])
        folder = int(
            request(conn, "POST", f"/api/v1/nodes/{root}/folders", headers, {"name": "big"})["id"]
        )
        started = time.perf_counter()
        node = fill(server.port, headers, folder, args.files, args.clients)
        print(
            f"filled {args.files} files in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
        conn.close()  # idle through the fill: the server closed it (keep-alive timeout)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        paths = {
            "node": f"/api/v1/nodes/{node}",
            "spaces": "/api/v1/spaces",
            "children": f"/api/v1/nodes/{folder}/children?limit=100",
        }
        for path in paths.values():  # warm up: caches, compiled statements
            for _ in range(20):
                request(conn, "GET", path, headers)
        times: dict[str, list[float]] = {kind: [] for kind in paths}
        cpu: dict[str, float] = dict.fromkeys(paths, 0.0)
        pid = server.server_pid()
        load = os.getloadavg()[0]
        for _ in range(args.rounds):
            for kind, path in paths.items():
                before_cpu = cpu_seconds([pid])
                before = time.perf_counter()
                request(conn, "GET", path, headers)
                times[kind].append((time.perf_counter() - before) * 1000)
                cpu[kind] += cpu_seconds([pid]) - before_cpu
        conn.close()
    print(f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{args.files} files, {args.rounds} rounds, one client")  # fmt: skip
    print()
    print("| request | p50 ms | p95 ms | mean ms | server CPU ms/request | target p50 |")
    print("|---|---:|---:|---:|---:|---|")
    for kind, values in times.items():
        p50 = statistics.median(values)
        verdict = "met" if p50 <= TARGETS_MS[kind] else "missed"
        print(
            f"| `GET {paths[kind]}` | {p50:.2f} | {percentile(values, 0.95):.2f} | "
            f"{statistics.fmean(values):.2f} | {cpu[kind] / args.rounds * 1000:.2f} | "
            f"<= {TARGETS_MS[kind]:g} ms {verdict} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
