"""CPU of a small upload's write transaction, in process: alone, or in a group commit.

Run by hand (never in CI), from the repository root:

    PYTHONPATH=src .venv/bin/python bench/upload_inprocess.py [--uploads 400] [--group 8]

A fresh SQLite instance (``tests.support.real_app``: encryption on, WAL, ``synchronous=FULL``)
with the drive tests' people. Each upload's bytes (16 KiB) are stored first, outside any
transaction, as the API and WebDAV do; what is timed is what holds SQLite's writer lock: the
recording of the upload (``content.commit_upload``: checks, node, version, manifest, events,
audit record) and its commit. ``alone`` runs each in a transaction of its own (what every upload
did before the group commit, and what a lone upload still does); ``grouped`` hands ``--group``
uploads at a time to one ``GroupCommit`` transaction (``polaris.db.group_commit``), the case of
concurrent uploads. Printed: CPU (``time.thread_time``, this thread only; the bench runs nothing
else) and wall time an upload, SQL statements an upload, and write transactions (WAL fsyncs).
The two modes are alternated ``--rounds`` times, so the machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.drive.conftest import seed  # noqa: E402
from tests.factories import SYSTEM  # noqa: E402
from tests.support.real_app import migrated, real_instance  # noqa: E402

from polaris.db import make_engine  # noqa: E402

try:  # an older build (before the group commit) is measured alone only
    from polaris.db.group_commit import GroupCommit, _Pending
except ImportError:
    GroupCommit = None  # type: ignore[assignment,misc]
from polaris.db.uow import transaction  # noqa: E402
from polaris.drive import content, spaces  # noqa: E402
from polaris.identity.actors import actor_for  # noqa: E402
from polaris.identity.models import User  # noqa: E402
from polaris.storage.refs import ContentRef  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=400, help="uploads a mode and round")
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="upload-inprocess-"))
    with migrated("sqlite", work, "unused") as url:
        engine = make_engine(url)
        instance = real_instance(engine, work)
        session = instance.sessions()
        seed(session)
        session.commit()
        user = session.scalars(select(User).where(User.username == "hc.a1")).one()
        actor = actor_for(session=session, user=user, auth_factors="password")
        found = spaces.visible_spaces(
            session=session, actor=actor, defaults=spaces.space_defaults(instance.settings)
        )
        session.commit()
        root = next(s.root_id for s in found if s.kind == "user")
        session.close()
        counts = {"statements": 0, "writes": 0}

        def on_execute(conn: Any, *_: Any) -> None:
            counts["statements"] += 1

        def on_begin(conn: Any) -> None:
            counts["writes"] += 1

        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "begin", on_begin)
        serial = [0]

        def unit(stored: ContentRef) -> Any:
            serial[0] += 1
            name = f"f{serial[0]:06}.bin"

            def record(write: Session) -> int:
                located, _, _ = content.commit_upload(
                    session=write,
                    actor=actor,
                    context=SYSTEM,
                    blobs=instance.blobs,
                    content=stored,
                    parent_id=root,
                    name=name,
                )
                return located.node.id

            return record

        def stored_bodies() -> list[ContentRef]:
            return [instance.blobs.put_bytes(os.urandom(16 * 1024)) for _ in range(args.uploads)]

        results: dict[str, list[tuple[float, float, float, float]]] = {}
        group = GroupCommit(instance.sessions) if GroupCommit is not None else None
        modes = ("alone", "grouped") if group is not None else ("alone",)
        for _ in range(args.rounds):
            for mode in modes:
                bodies = stored_bodies()
                counts.update(statements=0, writes=0)
                cpu, wall = time.thread_time(), time.perf_counter()
                if mode == "alone":
                    for body in bodies:
                        write = instance.sessions()
                        with transaction(write):
                            unit(body)(write)
                        write.close()
                else:
                    assert group is not None
                    for start in range(0, len(bodies), args.group):
                        batch = [_Pending(unit(b)) for b in bodies[start : start + args.group]]
                        group._commit(batch)  # what the leader does with a full queue
                        assert all(p.error is None for p in batch)
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                n = len(bodies)
                results.setdefault(mode, []).append(
                    (
                        1000 * cpu / n,
                        1000 * wall / n,
                        counts["statements"] / n,
                        counts["writes"] / n,
                    )
                )
                print(
                    f"{mode}: {1000 * cpu / n:.2f} ms CPU, {1000 * wall / n:.2f} ms wall, "
                    f"{counts['statements'] / n:.1f} statements, "
                    f"{counts['writes'] / n:.2f} write transactions an upload "
                    f"(load {os.getloadavg()[0]:.1f})",
                    file=sys.stderr,
                )
        engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    print("| mode | CPU ms an upload (runs; median) | wall ms | statements | write transactions |")
    print("|---|---:|---:|---:|---:|")
    for mode, rows in results.items():
        cpus = ", ".join(f"{r[0]:.2f}" for r in rows)
        print(
            f"| {mode} | {cpus}; **{statistics.median(r[0] for r in rows):.2f}** | "
            f"{statistics.median(r[1] for r in rows):.2f} | {rows[0][2]:.1f} | {rows[0][3]:.2f} |"
        )


if __name__ == "__main__":
    main()
