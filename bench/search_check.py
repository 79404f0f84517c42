"""What checking a search's matches against the database costs (``drive.indexing.readable``).

Every user's search checks all the matches the engine hands over (up to 1,100) before counting
them (``docs/search.md``, "The index lags the database"). This times that check for 20 and 1,100
nodes (22 folders in each of 50 folders of a station's space) beside the per-hit ``locate`` of a
20-hit page that it replaced. Run by hand, from the repository root:

    .venv/bin/python bench/search_check.py                 # SQLite in a temporary directory
    .venv/bin/python bench/search_check.py --postgresql    # a schema of its own on 127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, ".")

from tests.conftest import pg_url, reset_postgresql
from tests.factories import SYSTEM, build_tree, make_user

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification
from polaris.db import make_engine
from polaris.db.migrate import upgrade
from polaris.drive import indexing as drive_index
from polaris.drive import service, spaces
from polaris.drive._locate import locate
from polaris.identity.actors import actor_for
from polaris.identity.models import Unit, User

ROUNDS = 30


def actor(session: Session, username: str) -> Actor:
    user = session.scalars(select(User).where(User.username == username)).one()
    return actor_for(session=session, user=user, auth_factors="password")


def populate(engine: Engine) -> list[int]:
    with Session(engine, expire_on_commit=False) as session:
        build_tree(session)
        make_user(session, "ct.one")
        make_user(session, "sho.one", role="station_head", clearance=Classification.SECRET)
        unit = session.scalars(select(Unit).where(Unit.code == "PS-A1")).one()
        root = spaces.ensure_unit_space(session, unit, spaces.SpaceDefaults()).root_id
        head = actor(session, "sho.one")
        ids = []
        for f in range(50):
            parent = service.create_folder(
                session=session, actor=head, context=SYSTEM, parent_id=root, name=f"f{f}"
            ).node.id
            for n in range(22):
                ids.append(
                    service.create_folder(
                        session=session, actor=head, context=SYSTEM, parent_id=parent, name=f"{n}"
                    ).node.id
                )
        session.commit()
    return ids


def per_hit(session: Session, reader: Actor, ids: Sequence[int]) -> Any:
    """The check as it was: one ``locate`` (four queries) a hit of the page."""
    found = {}
    for node_id in ids:
        located = locate(session, node_id)
        if located is None or located.in_trash:
            continue
        if access.can(reader, Action.READ, located.resource()):
            found[node_id] = located
    return found


def timed(
    engine: Engine, check: Callable[[Session, Actor, Sequence[int]], Any], ids: Sequence[int]
) -> str:
    times = []
    for _ in range(ROUNDS):
        with Session(engine) as session:
            reader = actor(session, "ct.one")
            started = time.perf_counter()
            check(session, reader, ids)
            times.append(time.perf_counter() - started)
    return f"p50 {statistics.median(times) * 1000:.1f} ms, min {min(times) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    schema = f"test_{os.getpid()}_bench"
    if args.postgresql:
        engine = make_engine(pg_url(schema))
        reset_postgresql(engine, schema)
    else:
        engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    try:
        upgrade(engine)
        ids = populate(engine)
        print(f"{engine.dialect.name}, load average {os.getloadavg()[0]:.1f}:")
        print(f"- per-hit locate, 20 ids: {timed(engine, per_hit, ids[:20])}")
        print(f"- readable, 20 ids: {timed(engine, drive_index.readable, ids[:20])}")
        print(f"- readable, 1,100 ids: {timed(engine, drive_index.readable, ids)}")
    finally:
        if args.postgresql:
            with engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


if __name__ == "__main__":
    main()
