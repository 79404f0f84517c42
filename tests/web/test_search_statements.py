"""The statements one search runs, counted: a constant, whatever the number of hits on the page
(one fewer when every match lies in a space's root: no folder above them to read).

A search used to look up every hit and every share one by one (74 statements for a page of 20).
Now each table is read once for all the matches (``drive._reach``), so the count is the same
for one hit and for twenty, with shares or without; this test fails if per-hit lookups come back.
Counted on the instance's engine with ``before_cursor_execute`` (savepoints, which only the
test's rolled-back transaction makes, left out), on SQLite and PostgreSQL, with each engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from polaris.drive import shares
from polaris.handlers import settle
from polaris.identity.models import User
from polaris.instance import Instance
from tests.factories import SYSTEM, make_user
from tests.web.test_drive_pages import folder, put
from tests.web.test_pages import sign_in
from tests.web.test_search import as_user

#: Statements of one search, caller resolution included: the caller (1: session or token with the
#: identity stamp; unit reach and groups come from ``identity.facts``'s cache), then 7: the spaces
#: read wholly with their roots' levels, the shares reaching the caller, the check of every match
#: (nodes, folders above them but the roots already read, shares on the paths), the page's nodes
#: and the audit record; PostgreSQL's engine adds its 3 (settings, the matches, the texts).
MOST = {"tantivy": 8, "postgresql": 11}


@contextmanager
def counted(instance: Instance) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
            statements.append(" ".join(statement.split())[:120])

    event.listen(instance.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(instance.engine, "before_cursor_execute", count)


def statements_of(instance: Instance, client: TestClient, **params: Any) -> tuple[int, list[str]]:
    with counted(instance) as statements:
        response = client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text
    return len(response.json()["hits"]), statements


def test_a_search_runs_the_same_statements_for_one_hit_and_for_twenty(
    seeded: Instance, client: TestClient, engine_name: str
) -> None:
    session: Session = seeded.sessions()
    make_user(session, "hc.b1", unit="PS-B1", role="head_constable")
    session.commit()
    session.close()
    cases = folder(seeded, "ct.one", "cases")
    for n in range(24):
        put(seeded, "ct.one", f"report {n}.txt", b"x", parent=cases if n % 2 else None)
    put(seeded, "ct.one", "memo.txt", b"x")
    others = [folder(seeded, "hc.b1", f"shared {n}") for n in range(3)]
    put(seeded, "hc.b1", "report from b1.txt", b"x", parent=others[0])
    session, actor = as_user(seeded, "hc.b1")
    one = session.scalars(select(User).where(User.username == "ct.one")).one()
    for node_id in others:
        shares.create_share(
            session=session, actor=actor, context=SYSTEM, node_id=node_id, subject_type="user",
            subject_id=one.id, permission=shares.Permission.READ, include_subunits=False,
            expires_at=None,
        )  # fmt: skip
    session.commit()
    session.close()
    settle(seeded)
    sign_in(client, "ct.one")
    statements_of(seeded, client, q="memo")  # the session's first use may write; not counted

    counts = {}
    for q, limit, hits in (("memo", 20, 1), ("report", 5, 5), ("report", 20, 20)):
        found, statements = statements_of(seeded, client, q=q, limit=limit)
        assert found == hits
        counts[(q, limit)] = statements
    # Matches all in a space's root ("memo") need no folder read: one statement fewer, never more.
    assert len(counts[("report", 5)]) == len(counts[("report", 20)]), counts
    assert len(counts[("memo", 20)]) <= len(counts[("report", 20)]), counts
    twenty = counts[("report", 20)]
    assert len(twenty) <= MOST[engine_name], "\n".join(twenty)
