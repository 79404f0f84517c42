"""Migration ``20261207_0031``: names stored before ``drive.names`` refused a character are
repaired, a clash with a live sibling numbered, and the ETags up the path renewed (so that sync
clients list the folder again), on both databases."""

from __future__ import annotations

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from polaris.db.migrate import upgrade
from polaris.drive import service, spaces
from polaris.drive.models import Node
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from tests.db.test_migrations import empty_engine  # noqa: F401  (the fixture)
from tests.drive.conftest import seed
from tests.factories import SYSTEM

BEFORE = "20261207_0030"


def _folders(engine: Engine) -> tuple[int, dict[str, int]]:
    """hc.a1's space root and four folders in it, made through the drive's services."""
    with Session(engine) as session, session.begin():
        seed(session)
        user = session.scalars(select(User).where(User.username == "hc.a1")).one()
        actor = actor_for(session=session, user=user, auth_factors="password")
        found = spaces.visible_spaces(
            session=session,
            actor=actor,
            defaults=spaces.SpaceDefaults(),
        )
        root = next(space.root_id for space in found if space.kind == "user")
        assert root is not None
        made = {
            name: service.create_folder(
                session=session, actor=actor, context=SYSTEM, parent_id=root, name=name
            ).node.id
            for name in ("one", "two", "three", "four")
        }
        return root, made


def test_refused_names_are_repaired_and_numbered_past_a_live_sibling(
    empty_engine: Engine,  # noqa: F811
) -> None:
    upgrade(empty_engine, BEFORE)
    root, made = _folders(empty_engine)
    stored = {
        made["one"]: "case\ufffe",  # a noncharacter: XML cannot hold it
        made["two"]: "case_",  # what the first becomes: taken, so it is numbered
        made["three"]: "report\u202efdp.exe",  # a bidirectional override
        made["four"]: "notes",  # valid: left alone
    }
    with empty_engine.begin() as connection:
        for node_id, name in stored.items():
            connection.execute(
                text("UPDATE node SET name = :name, sort_name = :name WHERE id = :id"),
                {"name": name, "id": node_id},
            )
        before = {row.id: row.etag for row in connection.execute(text("SELECT id, etag FROM node"))}

    upgrade(empty_engine)

    with Session(empty_engine) as session:
        nodes = {node.id: node for node in session.scalars(select(Node))}
    assert nodes[made["one"]].name == "case_ (2)"
    assert nodes[made["one"]].sort_name == "case_ (2)"
    assert nodes[made["two"]].name == "case_"
    assert nodes[made["three"]].name == "report_fdp.exe"
    assert nodes[made["four"]].name == "notes"
    # The renamed nodes and their folder show a change to every level; the others do not.
    renewed = {node_id for node_id, node in nodes.items() if node.etag != before[node_id]}
    assert renewed == {made["one"], made["three"], root}
    assert nodes[root].etag_unclassified == nodes[root].etag
