"""The recovery planner on its own (no store, no database): each rule of ``admin.recovery_plan``
with the input that needs it, and every departure from the lost tree said in ``problems``."""

from __future__ import annotations

import datetime as dt
import hashlib
from datetime import UTC, datetime

from polaris.admin.recovery_plan import LOST_FOUND, Plan, plan_recovery
from polaris.storage.manifest import FileMetadata, Manifest
from polaris.storage.placement import PlacedSpace, Placement
from polaris.storage.refs import ContentRef

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SPACE = PlacedSpace(id=3, kind="unit", name="PS-A1", root_id=1, unit_id=5)


def manifest(node_id: int, version: int, *, name: str = "a.txt", path: str | None = None,
             parent: int | None = 2, minutes: int = 0, level: str = "unclassified",
             space: int = 3) -> Manifest:  # fmt: skip
    body = f"{node_id}.{version}.{minutes}".encode()
    content = ContentRef(chunks=(), size=0, sha256=hashlib.sha256(body).hexdigest())
    extra = {"space": "PS-A1", "version": version} | ({"parent_id": parent} if parent else {})
    meta = FileMetadata(
        name=name, created_at=T0 + dt.timedelta(minutes=minutes), path=path or f"/{name}",
        space_id=space, node_id=node_id, version_id=f"{node_id}.{version}",
        content_type="text/plain", classification=level, extra=extra,
    )  # fmt: skip
    return Manifest(hashlib.sha256(repr(meta).encode()).hexdigest(), content, meta)


def folder(node_id: int, name: str, parent: int, *, generation: int = 1, **extra: object
           ) -> Placement:  # fmt: skip
    values: dict[str, object] = {
        "node_id": node_id, "generation": generation, "recorded_at": T0, "kind": "folder",
        "name": name, "parent_id": parent, "path": f"/{name}", "space": SPACE,
        "classification": "unclassified", "created_at": T0 - dt.timedelta(days=1),
    }  # fmt: skip
    return Placement(**(values | extra))  # type: ignore[arg-type]


def by_id(plan: Plan) -> dict[int, tuple[int | None, str, int]]:
    return {node.id: (node.parent_id, node.name, node.level) for node in plan.nodes}


def lost_found(plan: Plan) -> int:
    [found] = [n.id for n in plan.nodes if n.name == LOST_FOUND]
    return found


def test_a_file_follows_its_parents_newest_record_and_keeps_its_versions_in_order() -> None:
    plan = plan_recovery(
        [manifest(9, 2, minutes=5), manifest(9, 1), manifest(9, 3, name="b.txt", minutes=9)],
        [folder(2, "FIR", 1), folder(2, "प्राथमिकी", 1, generation=7)],
    )
    assert by_id(plan) == {2: (1, "प्राथमिकी", 0), 9: (2, "b.txt", 0)}
    [file] = [n for n in plan.nodes if n.id == 9]
    assert [v.number for v in file.versions] == [1, 2, 3]
    assert plan.problems == [] and plan.generation == 7


def test_two_manifests_of_one_version_keep_the_later_and_list_the_earlier() -> None:
    plan = plan_recovery([manifest(9, 1), manifest(9, 1, minutes=3)], [folder(2, "FIR", 1)])
    [file] = [n for n in plan.nodes if n.id == 9]
    assert file.versions[0].created_at == T0 + dt.timedelta(minutes=3)
    spare = [n for n in plan.nodes if n.parent_id == lost_found(plan)]
    assert [n.name for n in spare] == ["a.txt (node 9 version 1)"]
    assert "claims version 1 of node 9" in plan.problems[0]


def test_two_nodes_claiming_one_name_keep_the_recorded_one_and_list_the_other() -> None:
    plan = plan_recovery(
        [manifest(9, 1, minutes=50), manifest(10, 1, name="b.txt")],
        [folder(2, "FIR", 1), Placement(**{**folder(10, "a.txt", 2).__dict__, "kind": "file"})],
    )
    nodes = by_id(plan)
    assert nodes[10] == (2, "a.txt", 0)
    assert nodes[9] == (lost_found(plan), "a.txt", 0)
    assert "'a.txt' is also the name of node 10" in " ".join(plan.problems)


def test_names_no_rule_allows_are_repaired_and_said_escaped() -> None:
    plan = plan_recovery(
        [manifest(9, 1, name="report\u202efdp.exe"), manifest(10, 1, name="nul\x00.txt")],
        [folder(2, "FIR", 1)],
    )
    names = {n.id: n.name for n in plan.nodes}
    assert names[9] == "report_fdp.exe" and names[10] == "nul_.txt"
    text = " ".join(plan.problems)
    assert "'report\\u202efdp.exe'" in text and "'nul\\u0000.txt'" in text
    assert "\u202e" not in text and "\x00" not in text


def test_without_its_folders_records_a_file_is_placed_by_its_path() -> None:
    plan = plan_recovery(
        [
            manifest(9, 1, path="/केस/2025/a.txt", parent=77),
            manifest(10, 1, name="b.txt", path="/केस/b.txt", parent=None),
        ],
        [folder(4, "केस", 1)],
    )
    nodes = by_id(plan)
    year = nodes[9][0]
    assert year is not None and nodes[year] == (4, "2025", 0)  # made, inside the recorded one
    assert nodes[10] == (4, "b.txt", 0)
    assert plan.problems == []


def test_a_purged_node_stays_gone_and_an_earlier_node_of_its_id_too() -> None:
    tombstone = Placement(node_id=9, generation=5, recorded_at=T0 + dt.timedelta(hours=1),
                          purged=True)  # fmt: skip
    reborn = folder(12, "new", 1, created_at=T0 + dt.timedelta(hours=2))
    plan = plan_recovery(
        [manifest(9, 1), manifest(12, 1), manifest(13, 1, minutes=180, name="after.txt", parent=1)],
        [tombstone, reborn, folder(2, "FIR", 1)],
    )
    ids = {n.id for n in plan.nodes}
    assert 9 not in ids and 13 in ids
    assert any("node 9: purged before the loss" in note for note in plan.notes)
    assert any("node 12: 1 version(s) of an earlier node" in note for note in plan.notes)


def test_what_leaves_its_folder_keeps_the_level_it_had_there() -> None:
    secret = folder(4, "गुप्त", 1, classification="secret")
    cycle = [folder(5, "x", 6, effective_classification="confidential"), folder(6, "y", 5)]
    plan = plan_recovery(
        [manifest(9, 1, parent=4), manifest(10, 1, parent=4, minutes=1)],
        [secret, *cycle],
    )
    nodes = by_id(plan)
    # Two files of one name in the secret folder: the loser leaves it, secret still.
    assert nodes[10] == (4, "a.txt", 0)  # changed last: keeps the place
    assert nodes[9] == (lost_found(plan), "a.txt", 3)
    # A cycle of records is broken through lost+found, at the recorded level.
    assert nodes[5] == (lost_found(plan), "x", 2) and nodes[6] == (5, "y", 0)
    assert any("cycle" in problem for problem in plan.problems)


def test_an_unknown_level_is_taken_as_secret() -> None:
    plan = plan_recovery([manifest(9, 1, level="top-secret", parent=1)], [folder(2, "x", 1)])
    assert by_id(plan)[9][2] == 3
    assert any("unknown classification 'top-secret'" in p for p in plan.problems)
