"""The audit log's sentences: one per action kind, with the names of who acted and what about,
read for a whole page in a fixed number of queries (not one a row)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from polaris.admin import audit_sentences
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.identity import groups, units, users
from tests.factories import build_tree, make_user


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []

    def note(*args: object) -> None:
        statements.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


def as_user(session: Session, username: str) -> AuditContext:
    user = users.get_by_username(session=session, username=username)
    return AuditContext(actor_id=user.id, actor_name=user.username, actor_role=user.role_code)


def test_sentences_name_people_units_and_groups(db_session: Session) -> None:
    ids = build_tree(db_session)
    make_user(db_session, "admin.one", unit="PHQ", role="admin")
    ravi = make_user(db_session, "ravi", unit="PS-A1")
    ravi.rank, ravi.full_name = "SI", "Ravi Sharma"
    unit = units.get_by_code(session=db_session, code="PS-A1")
    unit.name_hi = "कोतवाली"
    db_session.flush()
    admin = as_user(db_session, "admin.one")
    group = groups.create_group(session=db_session, name="SIT 7", unit_id=None, context=admin)
    groups.add_member(session=db_session, group_id=group.id, user_id=ravi.id, context=admin)
    audit.append(
        session=db_session,
        context=as_user(db_session, "ravi"),
        action="search.query",
        object_type="search",
        detail={"query": "FIR 45", "total": 1, "offset": 0},
    )
    audit.append(
        session=db_session,
        context=as_user(db_session, "ravi"),
        action="node.read",
        object_type="unit",
        object_id=str(ids["PS-A1"]),
        decision="deny",
        reason="no_access",
    )
    audit.append(
        session=db_session,
        context=admin,
        action="unit.update",
        object_type="unit",
        object_id=str(ids["PS-A1"]),
    )
    records = list(db_session.scalars(select(AuditRecord).order_by(AuditRecord.id)))
    names = audit_sentences.names_for(db_session, records)

    def said(action: str, language: str = "en") -> str:
        [record] = [r for r in records if r.action == action]
        found = audit_sentences.sentence(record, names, language=language)
        return found.text % dict(found.values)

    assert said("group.add_member") == "Admin.One added SI Ravi Sharma to the group SIT 7"
    assert said("search.query") == "SI Ravi Sharma searched for “FIR 45”"
    assert said("node.read") == "SI Ravi Sharma was refused: node.read on Unit PS-A1"
    assert said("unit.update", "hi") == "Admin.One renamed the unit कोतवाली"


def test_names_take_the_same_queries_for_ten_rows_or_two_hundred(db_session: Session) -> None:
    build_tree(db_session)
    people = [make_user(db_session, f"officer.{n:03d}") for n in range(40)]
    for n, person in enumerate(people * 5):
        audit.append(
            session=db_session,
            context=AuditContext(actor_id=person.id, actor_name=person.username),
            action="user.update",
            object_type="user",
            object_id=str(people[(n + 1) % len(people)].id),
        )
    records = list(
        db_session.scalars(select(AuditRecord).where(AuditRecord.action == "user.update"))
    )
    assert len(records) == 200
    with counted(db_session) as few:
        audit_sentences.names_for(db_session, records[:10])
    with counted(db_session) as many:
        names = audit_sentences.names_for(db_session, records)
    assert len(many) == len(few) <= 4, many
    assert len(names.users) == 40
