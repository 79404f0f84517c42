"""A page of a big folder reads a page, not the folder: the query plan of ``repo.children_page``.

With 10,000 children, each kind must be read from the index ``ix_node_live_children`` in its
order and the read stop after the page: the only sort allowed is the final one over the at most
``2 × limit`` ids. The plan is what makes a page's time independent of the folder's size; a
change to the query or the index that brings back a sort of the whole folder fails here, on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

from polaris.clock import utcnow
from polaris.drive import repo
from polaris.drive.models import FILE, FOLDER, Node, Space

CHILDREN = 10_000


def _fill(session: Session) -> int:
    """A case space whose root holds 10,000 files and 50 folders; the root's id."""
    space = Space(kind="case", name="Big")
    session.add(space)
    session.flush()
    root = Node(
        space_id=space.id,
        parent_id=None,
        path="/",
        kind=FOLDER,
        name="",
        sort_name="",
        etag="e",
        etag_unclassified="e",
        etag_restricted="e",
        etag_confidential="e",
    )
    session.add(root)
    session.flush()
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for number in range(CHILDREN + 50):
        kind = FOLDER if number >= CHILDREN else FILE
        name = f"{'d' if kind == FOLDER else 'f'}{number:06d}"
        rows.append(
            {
                "space_id": space.id,
                "parent_id": root.id,
                "path": f"/{root.id}/",
                "kind": kind,
                "name": name,
                "sort_name": name,
                "classification": number % 3,
                "etag": "e",
                "etag_unclassified": "e",
                "etag_restricted": "e",
                "etag_confidential": "e",
                "size": number,
                "created_at": now,
                "modified_at": now,
                "modified_at_unclassified": now,
                "modified_at_restricted": now,
                "modified_at_confidential": now,
            }
        )
    session.execute(insert(Node), rows)
    return root.id


def _page_plan(session: Session, parent_id: int, after: list[Any] | None) -> tuple[int, str]:
    """Rows of one page (100) and the database's plan of its statement."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        sent.append((statement, parameters))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", keep)
    try:
        rows = repo.children_page(
            session,
            parent_id=parent_id,
            max_classification=1,
            sort_field="sort_name",
            descending=False,
            after=after,
            limit=101,
        )
    finally:
        event.remove(connection, "before_cursor_execute", keep)
    statement, parameters = sent[-1]
    if connection.dialect.name == "sqlite":
        found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return len(rows), "\n".join(str(row[-1]) for row in found)
    found = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
    return len(rows), "\n".join(str(row[0]) for row in found)


def test_a_page_of_a_big_folder_reads_the_index_in_order(db_session: Session) -> None:
    parent = _fill(db_session)
    if db_session.connection().dialect.name == "postgresql":
        db_session.execute(text("ANALYZE node"))
    count, plan = _page_plan(db_session, parent, None)
    print(plan)  # shown with -s: the plan docs/performance.md quotes
    assert count == 101
    _read_in_order(db_session, plan, reads=2)
    # A page deep among the files reads the same way.
    count, plan = _page_plan(db_session, parent, [True, "f005000", 0])
    assert count == 101
    _read_in_order(db_session, plan, reads=1)


def _read_in_order(session: Session, plan: str, *, reads: int) -> None:
    """Each kind read from an index of the folder's children in the page's order, and one sort:
    the last, of the bounded reads' rows (PostgreSQL may read the files, the bulk of this folder,
    through ``ix_node_parent_sort``, also in name order)."""
    if session.connection().dialect.name == "sqlite":
        assert plan.count("USING INDEX ix_node_live_children") == reads, plan
        assert plan.count("TEMP B-TREE") == 1, plan
        assert "SCAN node" not in plan, plan
    else:
        assert plan.count("Index Scan using ix_node_") == reads, plan
        assert plan.count("Sort Key") == 1, plan
        assert "Seq Scan" not in plan, plan
        # The folders (few among many files) need the index by kind to stop early.
        if reads == 2:
            assert "ix_node_live_children" in plan, plan
