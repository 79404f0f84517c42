"""CPU and SQL statements of the metadata requests, in process: where a request's time goes.

Run by hand (never in CI), from the repository root, on an instance that ``bench/metadata.py
--keep`` filled (its directory holds ``data/``, ``token.txt`` and ``ids.json``):

    PYTHONPATH=src .venv/bin/python bench/metadata_inprocess.py DIR [--rounds 500] [--profile OUT]

The app runs in this process (no job threads, no sealer) and is called through ASGI directly, one
request at a time, so what is measured is the app's own work: the middleware, FastAPI, the caller,
the route and the JSON, without uvicorn's parsing or the socket. It prints, for each request kind,
the median CPU time a request (``time.process_time``: the event loop's thread and the thread pool's
alike; nothing else runs in the process) and the SQL statements a request. ``--profile OUT`` writes
a cProfile of the timed rounds (``OUT.prof``; read it with ``python -m pstats`` or snakeviz).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from polaris.app import create_app
from polaris.config import load_settings
from polaris.instance import open_instance


async def call(app: Any, path: str, token: str) -> tuple[int, bytes]:
    """One GET through the ASGI app; the status and the body."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"user-agent", b"bench"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


async def run(directory: Path, rounds: int, profile: Path | None, only: str | None) -> None:
    token = (directory / "token.txt").read_text().strip()
    paths: dict[str, str] = json.loads((directory / "ids.json").read_text())
    if only is not None:
        paths = {only: paths[only]}
    instance = open_instance(load_settings(directory / "data"))
    app = create_app(instance, seal_periodically=False, run_jobs=False)
    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    event.listen(instance.engine, "before_cursor_execute", count)
    async with app.router.lifespan_context(app):
        for path in paths.values():  # warm up: caches, compiled statements
            for _ in range(30):
                status, body = await call(app, path, token)
                if status != 200:
                    raise SystemExit(f"GET {path}: {status} {body[:200]!r}")
        cpu: dict[str, list[float]] = {kind: [] for kind in paths}
        counts: dict[str, int] = {}
        profiler = cProfile.Profile() if profile else None
        for _ in range(rounds):
            for kind, path in paths.items():
                statements[0] = 0
                if profiler is not None:
                    profiler.enable()
                before = time.process_time()
                await call(app, path, token)
                cpu[kind].append((time.process_time() - before) * 1000)
                if profiler is not None:
                    profiler.disable()
                counts[kind] = statements[0]
        if profiler is not None and profile is not None:
            profiler.dump_stats(f"{profile}.prof")
    print(f"{rounds} rounds, in process (no uvicorn, no socket)")
    print()
    print("| request | CPU p50 ms | CPU mean ms | SQL statements |")
    print("|---|---:|---:|---:|")
    for kind, values in cpu.items():
        print(
            f"| `GET {paths[kind]}` | {statistics.median(values):.2f} | "
            f"{statistics.fmean(values):.2f} | {counts[kind]} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="a `bench/metadata.py --keep` directory")
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--profile", type=Path, default=None, help="write OUT.prof (cProfile)")
    parser.add_argument("--only", choices=["node", "spaces", "children"], default=None)
    args = parser.parse_args()
    asyncio.run(run(args.directory, args.rounds, args.profile, args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
