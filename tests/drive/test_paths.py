"""Finding a node by its names (``drive.paths.find_by_names``, what WebDAV addresses): the whole
path read in one statement of the same shape whichever names exist, past the statement's
:data:`plain_repo.PATH_STEP` names too; a hidden folder on the way refused by ``access`` (audited)
whether or not anything lies below it, a missing or refused name answered None."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event

from polaris.drive import plain_repo
from polaris.drive.paths import find_by_names
from polaris.errors import NotFound
from tests.dav.conftest import acting
from tests.drive.conftest import Drive
from tests.factories import SYSTEM

DEPTH = plain_repo.PATH_STEP + 4


def _chain(drive: Drive, who: str, root: int, names: list[str]) -> list[int]:
    ids, parent = [], root
    for name in names:
        parent = drive.folder(who, parent, name)["id"]
        ids.append(parent)
    return ids


def _find(drive: Drive, who: str, root: int, names: list[str]) -> int | None:
    with acting(drive.instance, who) as (session, actor):
        found = find_by_names(
            session=session, actor=actor, context=SYSTEM, root_id=root, names=names
        )
        return None if found is None else found.node.id


def test_a_deep_path_is_found_and_a_missing_or_refused_name_is_none(drive: Drive) -> None:
    root = drive.root("hc.a1")
    names = [f"स्तर {index}" for index in range(DEPTH)]
    ids = _chain(drive, "hc.a1", root, names)
    assert _find(drive, "hc.a1", root, names) == ids[-1]
    assert _find(drive, "hc.a1", root, names[:3]) == ids[2]
    assert _find(drive, "hc.a1", root, []) == root
    for missing in (2, plain_repo.PATH_STEP, DEPTH - 1):  # before, at and after a step's end
        wrong = [*names[:missing], "nowhere", *names[missing + 1 :]]
        assert _find(drive, "hc.a1", root, wrong) is None
    assert _find(drive, "hc.a1", root, [*names[:2], "bad\x00name"]) is None
    assert _find(drive, "hc.a2", drive.root("hc.a2"), names) is None  # not in their space


def test_a_hidden_folder_on_the_way_is_refused_alike_whatever_lies_below(drive: Drive) -> None:
    root = drive.root("sho.a1", "unit")
    secret = drive.post(
        "sho.a1", f"/api/v1/nodes/{root}/folders", json={"name": "S", "classification": "secret"}
    ).json()["id"]
    drive.folder("sho.a1", secret, "inner")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

    engine = drive.instance.sessions.kw["bind"]
    shapes = []
    for below in (["inner"], ["nothing here"]):
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            with pytest.raises(NotFound):
                _find(drive, "hc.a1", root, ["S", *below])
        finally:
            event.remove(engine, "before_cursor_execute", count)
        shapes.append(statements[:])
    assert shapes[0] == shapes[1]
    assert _find(drive, "sho.a1", root, ["S", "inner"]) is not None
