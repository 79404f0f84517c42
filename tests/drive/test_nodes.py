"""Spaces, folders and nodes over HTTP: list, page, rename, move, copy, names, ETags, access."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import select

from polaris.audit.models import AuditRecord
from tests.drive.conftest import Drive

API = "/api/v1"
KA = "\u0915"  # क: three bytes of UTF-8
NNNA_NFC = "\u0929\u093e\u092e"  # ऩाम, composed
NNNA_NFD = "\u0928\u093c\u093e\u092e"  # the same, decomposed (न + nukta)


def node(drive: Drive, who: str, node_id: int) -> dict[str, Any]:
    response = drive.get(who, f"{API}/nodes/{node_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def etag(drive: Drive, who: str, node_id: int) -> str:
    return str(node(drive, who, node_id)["etag"])


def children(drive: Drive, who: str, folder_id: int, **params: object) -> list[dict[str, Any]]:
    response = drive.get(who, f"{API}/nodes/{folder_id}/children", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return response.json()["items"]  # type: ignore[no-any-return]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


def all_pages(drive: Drive, who: str, folder_id: int, **params: object) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = drive.get(who, f"{API}/nodes/{folder_id}/children", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor does not advance"


def create_folder(drive: Drive, who: str, parent: int, name: str, **body: object) -> Any:
    return drive.post(who, f"{API}/nodes/{parent}/folders", json={"name": name, **body})


def problem_code(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["code"])


def space_of_unit(drive: Drive, who: str, unit: str) -> dict[str, Any]:
    response = drive.get(who, f"{API}/spaces")
    assert response.status_code == 200, response.text
    found = [s for s in response.json() if s["unit_id"] == drive.unit_ids[unit]]
    assert len(found) == 1, response.json()
    return found[0]  # type: ignore[no-any-return]


def denials(drive: Drive, node_id: int) -> list[AuditRecord]:
    with drive.instance.sessions() as session:
        return list(
            session.scalars(
                select(AuditRecord).where(
                    AuditRecord.decision == "deny", AuditRecord.object_id == str(node_id)
                )
            )
        )


# Spaces


def test_everyone_has_a_personal_and_a_unit_space(drive: Drive) -> None:
    for who, unit in [("hc.a1", "PS-A1"), ("ct.a1", "PS-A1"), ("hc.b1", "PS-B1")]:
        response = drive.get(who, f"{API}/spaces")
        assert response.status_code == 200, response.text
        spaces = response.json()
        personal = [s for s in spaces if s["kind"] == "user"]
        assert [s["owner_id"] for s in personal] == [drive.user_ids[who]]
        assert personal[0]["unit_id"] is None
        units = [s["unit_id"] for s in spaces if s["kind"] == "unit"]
        assert units == [drive.unit_ids[unit]]


def test_personal_space_is_the_same_on_every_call(drive: Drive) -> None:
    first = drive.space("hc.a1")
    second = drive.space("hc.a1")
    assert first == second
    assert first["root_id"] != drive.space("hc.a2")["root_id"]


def test_subdivision_head_sees_the_units_below_only(drive: Drive) -> None:
    response = drive.get("sdop.a", f"{API}/spaces")
    assert response.status_code == 200
    units = {s["unit_id"] for s in response.json() if s["kind"] == "unit"}
    assert units == {drive.unit_ids[u] for u in ("SDV-A", "PS-A1", "PS-A2")}
    assert drive.unit_ids["PS-B1"] not in units


def test_station_user_does_not_see_another_station(drive: Drive) -> None:
    ps_a1 = space_of_unit(drive, "hc.a1", "PS-A1")
    response = drive.get("hc.b1", f"{API}/spaces")
    assert ps_a1["id"] not in {s["id"] for s in response.json()}
    assert drive.get("hc.b1", f"{API}/spaces/{ps_a1['id']}").status_code == 404
    assert drive.get("hc.a1", f"{API}/spaces/{ps_a1['id']}").status_code == 200


def test_nobody_sees_a_colleagues_personal_space(drive: Drive) -> None:
    personal = {who: drive.space(who)["id"] for who in ("hc.a1", "sdop.a", "admin")}
    for who in ("hc.a1", "ct.a1", "si.a1", "sho.a1", "hc.a2", "sdop.a", "hc.b1", "admin"):
        response = drive.get(who, f"{API}/spaces")
        for space in response.json():
            if space["kind"] == "user":
                assert space["owner_id"] == drive.user_ids[who], (who, space)
    # Supervisory reach covers unit spaces, never a colleague's personal space.
    assert drive.get("sdop.a", f"{API}/spaces/{personal['hc.a1']}").status_code == 404
    assert drive.get("admin", f"{API}/spaces/{personal['hc.a1']}").status_code == 404
    assert drive.get("hc.a1", f"{API}/spaces/{personal['sdop.a']}").status_code == 404
    assert drive.get("hc.a1", f"{API}/spaces/{personal['hc.a1']}").status_code == 200


def test_unknown_space_is_404(drive: Drive) -> None:
    response = drive.get("hc.a1", f"{API}/spaces/987654")
    assert response.status_code == 404
    assert problem_code(response) == "not_found"


# Folders: create, get, list


def test_create_and_get_folder(drive: Drive) -> None:
    root = drive.root("hc.a1")
    created = drive.folder("hc.a1", root, "Cases")
    inner = drive.folder("hc.a1", created["id"], "FIR 12-2026")
    got = node(drive, "hc.a1", inner["id"])
    assert got["kind"] == "folder"
    assert got["name"] == "FIR 12-2026"
    assert got["parent_id"] == created["id"]
    assert got["path"] == "/Cases/FIR 12-2026"
    assert got["size"] is None
    assert got["space_id"] == drive.space("hc.a1")["id"]
    assert "write" in got["permissions"]
    assert names(children(drive, "hc.a1", root)) == ["Cases"]


def test_name_taken_in_the_same_folder(drive: Drive) -> None:
    root = drive.root("hc.a1")
    drive.folder("hc.a1", root, "Cases")
    response = create_folder(drive, "hc.a1", root, "Cases")
    assert response.status_code == 409
    assert problem_code(response) == "name_taken"
    # A file cannot take a folder's name either, and other folders may reuse it.
    clash = drive.post(
        "hc.a1", f"{API}/files", params={"parent_id": root, "name": "Cases"}, content=b"x"
    )
    assert clash.status_code == 409
    other = drive.folder("hc.a1", root, "Other")
    drive.folder("hc.a1", other["id"], "Cases")


def test_children_of_a_file_is_refused(drive: Drive) -> None:
    file = drive.upload("hc.a1", drive.root("hc.a1"), "a.txt", b"a")
    response = create_folder(drive, "hc.a1", file["id"], "inside")
    assert response.status_code == 409
    assert problem_code(response) == "not_a_folder"


@pytest.fixture
def crowded(drive: Drive) -> tuple[int, dict[str, dict[str, Any]]]:
    """A folder of 10 folders and 15 files, created in an order unlike any sort order."""
    folder = drive.folder("hc.a1", drive.root("hc.a1"), "crowded")["id"]
    made: dict[str, dict[str, Any]] = {}
    for i in range(10):
        name = f"d{(i * 3) % 10:02d}"
        made[name] = drive.folder("hc.a1", folder, name)
    for i in range(15):
        name = f"f{(i * 7) % 15:02d}.txt"
        size = (i * 4) % 15 + 1  # sizes 1..15, distinct, in yet another order
        made[name] = drive.upload("hc.a1", folder, name, b"z" * size)
    return folder, made


def test_paging_returns_every_child_once_in_a_stable_order(
    drive: Drive, crowded: tuple[int, dict[str, dict[str, Any]]]
) -> None:
    folder, made = crowded
    pages = all_pages(drive, "hc.a1", folder, limit=7)
    assert [len(page) for page in pages] == [7, 7, 7, 4]
    flat = [node_id for page in pages for node_id in page]
    assert len(flat) == len(set(flat)) == 25
    assert set(flat) == {item["id"] for item in made.values()}
    by_id = {item["id"]: name for name, item in made.items()}
    expected = sorted(n for n in made if n.startswith("d")) + sorted(
        n for n in made if n.startswith("f")
    )
    assert [by_id[i] for i in flat] == expected
    # The same order as one big page, and the same again on a second walk.
    assert flat == [item["id"] for item in children(drive, "hc.a1", folder)]
    assert all_pages(drive, "hc.a1", folder, limit=7) == pages


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["name", "modified", "size"])
def test_sorting_keeps_folders_first(
    drive: Drive, crowded: tuple[int, dict[str, dict[str, Any]]], sort: str, order: str
) -> None:
    folder, made = crowded
    descending = order == "desc"
    items = children(drive, "hc.a1", folder, sort=sort, order=order)
    assert [item["kind"] for item in items] == ["folder"] * 10 + ["file"] * 15

    def key(item: dict[str, Any]) -> tuple[object, int]:
        value = {
            "name": item["name"],
            "modified": dt.datetime.fromisoformat(item["modified_at"]),
            "size": item["size"] or 0,
        }
        return value[sort], item["id"]

    ids = {name: item["id"] for name, item in made.items()}
    current = {item["id"]: item for item in items}
    for kind in ("folder", "file"):
        group = [item for item in items if item["kind"] == kind]
        expected = sorted(
            (current[ids[n]] for n in made if current[ids[n]]["kind"] == kind),
            key=key,
            reverse=descending,
        )
        assert [i["id"] for i in group] == [i["id"] for i in expected], (sort, order, kind)
    if sort == "size":
        sizes = [item["size"] for item in items if item["kind"] == "file"]
        assert sizes == sorted(sizes, reverse=descending)
        assert len(set(sizes)) == 15
    # Paging in this order gives the same sequence.
    pages = all_pages(drive, "hc.a1", folder, sort=sort, order=order, limit=7)
    assert [i for page in pages for i in page] == [item["id"] for item in items]


def encoded(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_CURSORS = [  # (sort, cursor)
    ("name", "garbage"),
    ("name", "!!!"),
    ("name", encoded([])),
    ("name", encoded({"a": 1})),
    ("name", encoded(42)),
    ("name", encoded(["size", True, 1, 2])),  # made for another sort
    ("name", encoded(["name", True, 1, 2])),  # a number where a name belongs
    ("name", encoded(["name", True, "a", "x"])),  # no node id
    ("name", encoded(["name", "yes", "a", 2])),  # not a boolean
    ("name", encoded(["name", True, "a", 2, 3])),
    ("modified", encoded(["modified", True, "yesterday", 2])),
    ("size", encoded(["size", True, "big", 2])),
]


def test_invalid_cursor_is_422(drive: Drive) -> None:
    folder = drive.folder("hc.a1", drive.root("hc.a1"), "f")["id"]
    for sort, cursor in BAD_CURSORS:
        params = {"cursor": cursor, "sort": sort}
        response = drive.get("hc.a1", f"{API}/nodes/{folder}/children", params=params)
        assert response.status_code == 422, (cursor, response.text)
        assert problem_code(response) == "invalid_cursor"


def test_cursor_of_another_sort_is_refused(
    drive: Drive, crowded: tuple[int, dict[str, dict[str, Any]]]
) -> None:
    folder, _ = crowded
    first = drive.get("hc.a1", f"{API}/nodes/{folder}/children", params={"limit": 5})
    cursor = first.json()["next_cursor"]
    assert cursor
    response = drive.get(
        "hc.a1",
        f"{API}/nodes/{folder}/children",
        params={"limit": 5, "cursor": cursor, "sort": "size"},
    )
    assert response.status_code == 422
    assert problem_code(response) == "invalid_cursor"


# Rename, move, copy


def test_rename_keeps_the_id(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "old")
    file = drive.upload("hc.a1", folder["id"], "a.txt", b"abc")
    response = drive.patch("hc.a1", f"{API}/nodes/{folder['id']}", json={"name": "नया"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == folder["id"]
    assert response.json()["name"] == "नया"
    assert node(drive, "hc.a1", file["id"])["path"] == "/नया/a.txt"
    assert names(children(drive, "hc.a1", root)) == ["नया"]


def test_rename_to_a_taken_name_is_409(drive: Drive) -> None:
    root = drive.root("hc.a1")
    drive.folder("hc.a1", root, "one")
    two = drive.folder("hc.a1", root, "two")
    response = drive.patch("hc.a1", f"{API}/nodes/{two['id']}", json={"name": "one"})
    assert response.status_code == 409
    assert problem_code(response) == "name_taken"
    assert node(drive, "hc.a1", two["id"])["name"] == "two"


def test_rename_with_a_stale_if_match_is_412(drive: Drive) -> None:
    folder = drive.folder("hc.a1", drive.root("hc.a1"), "x")
    response = drive.patch(
        "hc.a1", f"{API}/nodes/{folder['id']}", json={"name": "y"}, headers={"If-Match": '"0"'}
    )
    assert response.status_code == 412
    good = drive.patch(
        "hc.a1",
        f"{API}/nodes/{folder['id']}",
        json={"name": "y"},
        headers={"If-Match": f'"{folder["etag"]}"'},
    )
    assert good.status_code == 200, good.text


def test_move_carries_the_subtree(drive: Drive) -> None:
    root = drive.root("hc.a1")
    source = drive.folder("hc.a1", root, "source")
    target = drive.folder("hc.a1", root, "target")
    moving = drive.folder("hc.a1", source["id"], "moving")
    deep = drive.folder("hc.a1", moving["id"], "deep")
    file = drive.upload("hc.a1", deep["id"], "a.txt", b"abc")
    response = drive.patch("hc.a1", f"{API}/nodes/{moving['id']}", json={"parent_id": target["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == target["id"]
    assert response.json()["path"] == "/target/moving"
    assert node(drive, "hc.a1", file["id"])["path"] == "/target/moving/deep/a.txt"
    assert names(children(drive, "hc.a1", source["id"])) == []
    assert names(children(drive, "hc.a1", target["id"])) == ["moving"]
    assert drive.get("hc.a1", f"{API}/files/{file['id']}/content").content == b"abc"
    # Moving back works, and a move and a rename can go together.
    back = drive.patch(
        "hc.a1",
        f"{API}/nodes/{moving['id']}",
        json={"parent_id": source["id"], "name": "moved"},
    )
    assert back.status_code == 200, back.text
    assert node(drive, "hc.a1", file["id"])["path"] == "/source/moved/deep/a.txt"


def test_move_into_itself_or_a_descendant_is_409(drive: Drive) -> None:
    root = drive.root("hc.a1")
    top = drive.folder("hc.a1", root, "top")
    child = drive.folder("hc.a1", top["id"], "child")
    grandchild = drive.folder("hc.a1", child["id"], "grandchild")
    for destination in (top, child, grandchild):
        response = drive.patch(
            "hc.a1", f"{API}/nodes/{top['id']}", json={"parent_id": destination["id"]}
        )
        assert response.status_code == 409, response.text
        assert problem_code(response) == "move_into_itself"
    assert node(drive, "hc.a1", grandchild["id"])["path"] == "/top/child/grandchild"


def test_move_to_a_folder_with_the_name_taken_is_409(drive: Drive) -> None:
    root = drive.root("hc.a1")
    a = drive.folder("hc.a1", root, "a")
    drive.folder("hc.a1", a["id"], "same")
    same = drive.folder("hc.a1", root, "same")
    response = drive.patch("hc.a1", f"{API}/nodes/{same['id']}", json={"parent_id": a["id"]})
    assert response.status_code == 409
    assert problem_code(response) == "name_taken"
    assert node(drive, "hc.a1", same["id"])["parent_id"] == root


def test_root_cannot_be_renamed(drive: Drive) -> None:
    root = drive.root("hc.a1")
    response = drive.patch("hc.a1", f"{API}/nodes/{root}", json={"name": "mine"})
    assert response.status_code == 409
    assert problem_code(response) == "is_root"


def test_copy_a_folder_tree(drive: Drive) -> None:
    root = drive.root("hc.a1")
    source = drive.folder("hc.a1", root, "source")
    sub = drive.folder("hc.a1", source["id"], "sub")
    data_a, data_b = b"alpha" * 1000, bytes(range(256)) * 300
    file_a = drive.upload("hc.a1", source["id"], "a.txt", data_a)
    file_b = drive.upload("hc.a1", sub["id"], "b.bin", data_b)
    target = drive.folder("hc.a1", root, "target")
    used_before = drive.used_bytes("hc.a1")

    response = drive.post(
        "hc.a1", f"{API}/nodes/{source['id']}/copy", json={"parent_id": target["id"]}
    )
    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["id"] != source["id"]
    assert copy["name"] == "source"
    assert copy["path"] == "/target/source"
    top = children(drive, "hc.a1", copy["id"])
    assert names(top) == ["sub", "a.txt"]
    copied_sub = top[0]
    copied_a = top[1]
    (copied_b,) = children(drive, "hc.a1", copied_sub["id"])
    assert {copied_a["id"], copied_b["id"], copied_sub["id"]}.isdisjoint(
        {file_a["id"], file_b["id"], sub["id"]}
    )
    assert copied_a["sha256"] == file_a["sha256"] == hashlib.sha256(data_a).hexdigest()
    assert copied_b["sha256"] == file_b["sha256"] == hashlib.sha256(data_b).hexdigest()
    assert drive.get("hc.a1", f"{API}/files/{copied_a['id']}/content").content == data_a
    assert drive.get("hc.a1", f"{API}/files/{copied_b['id']}/content").content == data_b
    # The original is untouched, and the copy counts against the quota.
    assert names(children(drive, "hc.a1", source["id"])) == ["sub", "a.txt"]
    assert drive.used_bytes("hc.a1") == used_before + len(data_a) + len(data_b)


def test_copy_beside_the_original_needs_a_new_name(drive: Drive) -> None:
    root = drive.root("hc.a1")
    source = drive.folder("hc.a1", root, "source")
    drive.upload("hc.a1", source["id"], "a.txt", b"a")
    same = drive.post("hc.a1", f"{API}/nodes/{source['id']}/copy", json={"parent_id": root})
    assert same.status_code == 409
    assert problem_code(same) == "name_taken"
    renamed = drive.post(
        "hc.a1", f"{API}/nodes/{source['id']}/copy", json={"parent_id": root, "name": "copy"}
    )
    assert renamed.status_code == 201, renamed.text
    assert names(children(drive, "hc.a1", root)) == ["copy", "source"]
    assert names(children(drive, "hc.a1", renamed.json()["id"])) == ["a.txt"]


def test_copy_into_itself_is_409(drive: Drive) -> None:
    root = drive.root("hc.a1")
    top = drive.folder("hc.a1", root, "top")
    child = drive.folder("hc.a1", top["id"], "child")
    response = drive.post("hc.a1", f"{API}/nodes/{top['id']}/copy", json={"parent_id": child["id"]})
    assert response.status_code == 409
    assert problem_code(response) == "copy_into_itself"


# Names


def test_decomposed_hindi_name_is_stored_composed_and_clashes(drive: Drive) -> None:
    root = drive.root("hc.a1")
    created = drive.folder("hc.a1", root, NNNA_NFD)
    assert created["name"] == NNNA_NFC
    twin = create_folder(drive, "hc.a1", root, NNNA_NFC)
    assert twin.status_code == 409
    assert problem_code(twin) == "name_taken"
    # The other way round, and through a file upload.
    other = drive.folder("hc.a1", root, "other")
    drive.upload("hc.a1", other["id"], NNNA_NFC, b"x")
    clash = drive.post(
        "hc.a1", f"{API}/files", params={"parent_id": other["id"], "name": NNNA_NFD}, content=b"y"
    )
    assert clash.status_code == 409
    assert problem_code(clash) == "name_taken"


def test_name_length_is_counted_in_bytes(drive: Drive) -> None:
    root = drive.root("hc.a1")
    longest = KA * 85
    assert len(longest.encode()) == 255
    created = drive.folder("hc.a1", root, longest)
    assert node(drive, "hc.a1", created["id"])["name"] == longest
    too_long = KA * 85 + "a"
    assert len(too_long.encode()) == 256
    response = create_folder(drive, "hc.a1", root, too_long)
    assert response.status_code == 422
    assert problem_code(response) == "name_too_long"
    rename = drive.patch("hc.a1", f"{API}/nodes/{created['id']}", json={"name": too_long})
    assert rename.status_code == 422
    assert problem_code(rename) == "name_too_long"


BAD_NAMES = ["..", ".", "a/b", "a\\b", "a\x07b", "tab\there", "report\u202efdp.exe", " "]


def test_bad_names_are_422(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "fine")
    for name in BAD_NAMES:
        response = create_folder(drive, "hc.a1", root, name)
        assert response.status_code == 422, (name, response.text)
        assert problem_code(response) in {"name_invalid", "name_empty"}, name
        rename = drive.patch("hc.a1", f"{API}/nodes/{folder['id']}", json={"name": name})
        assert rename.status_code == 422, name
        upload = drive.post(
            "hc.a1", f"{API}/files", params={"parent_id": root, "name": name}, content=b"x"
        )
        assert upload.status_code == 422, name
    assert names(children(drive, "hc.a1", root)) == ["fine"]


def test_empty_name_is_422(drive: Drive) -> None:
    response = create_folder(drive, "hc.a1", drive.root("hc.a1"), "")
    assert response.status_code == 422


# ETags


def test_etag_changes_up_the_path_and_nowhere_else(drive: Drive) -> None:
    root = drive.root("hc.a1")
    a = drive.folder("hc.a1", root, "a")["id"]
    b = drive.folder("hc.a1", a, "b")["id"]
    c = drive.folder("hc.a1", b, "c")["id"]
    sibling = drive.folder("hc.a1", a, "sibling")["id"]
    cousin = drive.folder("hc.a1", sibling, "cousin")["id"]
    path = [root, a, b, c]

    def snapshot() -> dict[int, str]:
        return {node_id: etag(drive, "hc.a1", node_id) for node_id in [*path, sibling, cousin]}

    before = snapshot()
    file = drive.upload("hc.a1", c, "deep.txt", b"deep")
    after_add = snapshot()
    response = drive.patch("hc.a1", f"{API}/nodes/{file['id']}", json={"name": "renamed.txt"})
    assert response.status_code == 200, response.text
    after_rename = snapshot()
    assert drive.delete("hc.a1", f"{API}/nodes/{file['id']}").status_code == 204
    after_delete = snapshot()

    for earlier, later in [(before, after_add), (after_add, after_rename)]:
        for node_id in path:
            assert later[node_id] != earlier[node_id], node_id
        assert later[sibling] == earlier[sibling]
        assert later[cousin] == earlier[cousin]
    for node_id in path:
        assert after_delete[node_id] != after_rename[node_id], node_id
    assert after_delete[sibling] == before[sibling]
    assert after_delete[cousin] == before[cousin]


def test_etag_of_a_file_changes_with_a_new_version(drive: Drive) -> None:
    root = drive.root("hc.a1")
    file = drive.upload("hc.a1", root, "v.txt", b"one")
    response = drive.put("hc.a1", f"{API}/files/{file['id']}/content", content=b"two")
    assert response.status_code == 200, response.text
    assert response.json()["etag"] != file["etag"]
    assert etag(drive, "hc.a1", file["id"]) == response.json()["etag"]


# Access


def test_other_station_gets_404_not_403(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    folder = drive.folder("hc.a1", unit_root, "station files")
    file = drive.upload("hc.a1", folder["id"], "a.txt", b"a")
    for node_id in (unit_root, folder["id"], file["id"]):
        response = drive.get("hc.b1", f"{API}/nodes/{node_id}")
        assert response.status_code == 404, response.text
        assert problem_code(response) == "not_found"
    assert drive.get("hc.b1", f"{API}/nodes/{folder['id']}/children").status_code == 404
    assert drive.get("hc.b1", f"{API}/files/{file['id']}/content").status_code == 404
    for response in (
        create_folder(drive, "hc.b1", folder["id"], "intruder"),
        drive.patch("hc.b1", f"{API}/nodes/{file['id']}", json={"name": "b.txt"}),
        drive.delete("hc.b1", f"{API}/nodes/{file['id']}"),
        drive.put("hc.b1", f"{API}/files/{file['id']}/content", content=b"b"),
    ):
        assert response.status_code == 404, response.text
    assert names(children(drive, "hc.a1", folder["id"])) == ["a.txt"]


def test_denied_read_is_audited(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    folder = drive.folder("hc.a1", unit_root, "station files")
    assert denials(drive, folder["id"]) == []
    assert drive.get("hc.b1", f"{API}/nodes/{folder['id']}").status_code == 404
    (record,) = denials(drive, folder["id"])
    assert record.object_type == "node"
    assert record.actor_id == str(drive.user_ids["hc.b1"])
    assert record.action == "node.read"
    assert record.reason == "no_reach"


def test_constable_reads_the_unit_space_but_cannot_write(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    assert drive.root("ct.a1", "unit") == unit_root
    folder = drive.folder("hc.a1", unit_root, "by head constable")
    listing = children(drive, "ct.a1", unit_root)
    assert names(listing) == ["by head constable"]
    assert listing[0]["permissions"] == ["read"]
    response = create_folder(drive, "ct.a1", unit_root, "by constable")
    assert response.status_code == 403
    assert problem_code(response) == "permission_denied"
    rename = drive.patch("ct.a1", f"{API}/nodes/{folder['id']}", json={"name": "x"})
    assert rename.status_code == 403
    assert drive.delete("ct.a1", f"{API}/nodes/{folder['id']}").status_code == 403
    upload = drive.post(
        "ct.a1", f"{API}/files", params={"parent_id": unit_root, "name": "c.txt"}, content=b"c"
    )
    assert upload.status_code == 403
    assert names(children(drive, "hc.a1", unit_root)) == ["by head constable"]
    assert [r.reason for r in denials(drive, unit_root)] == ["no_reach", "no_reach"]


def test_head_constable_creates_in_the_unit_space(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    created = drive.folder("hc.a1", unit_root, "register")
    assert created["space_id"] == space_of_unit(drive, "hc.a1", "PS-A1")["id"]
    drive.upload("hc.a1", created["id"], "entry.txt", b"entry")
    assert names(children(drive, "si.a1", created["id"])) == ["entry.txt"]


def test_supervisory_reach_goes_down_never_up(drive: Drive) -> None:
    station_root = drive.root("hc.a1", "unit")
    folder = drive.folder("hc.a1", station_root, "station")
    file = drive.upload("hc.a1", folder["id"], "a.txt", b"station data")
    # sdop.a (SDV-A) reads PS-A1's space: supervisory reach.
    ps_a1 = space_of_unit(drive, "sdop.a", "PS-A1")
    assert ps_a1["root_id"] == station_root
    assert drive.get("sdop.a", f"{API}/spaces/{ps_a1['id']}").status_code == 200
    assert names(children(drive, "sdop.a", folder["id"])) == ["a.txt"]
    assert drive.get("sdop.a", f"{API}/files/{file['id']}/content").content == b"station data"
    # ...but only reads: the subdivision head has no write in the station.
    response = create_folder(drive, "sdop.a", folder["id"], "from above")
    assert response.status_code == 403
    # A station user cannot read the sub-division's space.
    sdv = space_of_unit(drive, "sdop.a", "SDV-A")
    sdv_folder = drive.folder("sdop.a", sdv["root_id"], "subdivision")
    assert drive.get("hc.a1", f"{API}/spaces/{sdv['id']}").status_code == 404
    assert drive.get("hc.a1", f"{API}/nodes/{sdv['root_id']}").status_code == 404
    assert drive.get("hc.a1", f"{API}/nodes/{sdv_folder['id']}").status_code == 404
    assert drive.get("sho.a1", f"{API}/nodes/{sdv_folder['id']}").status_code == 404
    # Nor a sibling station's.
    ps_a2 = space_of_unit(drive, "sdop.a", "PS-A2")
    assert drive.get("hc.a1", f"{API}/nodes/{ps_a2['root_id']}").status_code == 404


def test_clearance_hides_a_classified_folder(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    open_folder = drive.folder("hc.a1", unit_root, "open")
    response = create_folder(
        drive, "sho.a1", unit_root, "confidential", classification="confidential"
    )
    assert response.status_code == 201, response.text
    secret = response.json()
    assert secret["classification"] == "confidential"
    inside = drive.upload("sho.a1", secret["id"], "inside.txt", b"inside")
    assert inside["classification"] == "confidential"

    assert names(children(drive, "hc.a1", unit_root)) == ["open"]
    assert names(children(drive, "ct.a1", unit_root)) == ["open"]
    for node_id in (secret["id"], inside["id"]):
        denied = drive.get("hc.a1", f"{API}/nodes/{node_id}")
        assert denied.status_code == 404
        assert problem_code(denied) == "not_found"
    assert drive.get("hc.a1", f"{API}/files/{inside['id']}/content").status_code == 404
    assert [r.reason for r in denials(drive, secret["id"])] == ["clearance"]

    assert names(children(drive, "si.a1", unit_root)) == ["confidential", "open"]
    assert node(drive, "si.a1", secret["id"])["classification"] == "confidential"
    assert drive.get("si.a1", f"{API}/files/{inside['id']}/content").content == b"inside"
    assert open_folder["classification"] == "unclassified"


def test_reclassifying_hides_a_folder(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    folder = drive.folder("hc.a1", unit_root, "case")
    file = drive.upload("hc.a1", folder["id"], "a.txt", b"a")
    response = drive.patch(
        "sho.a1", f"{API}/nodes/{folder['id']}", json={"classification": "confidential"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["classification"] == "confidential"
    assert names(children(drive, "hc.a1", unit_root)) == []
    assert drive.get("hc.a1", f"{API}/nodes/{folder['id']}").status_code == 404
    # The file inside inherits the level of its folder.
    assert drive.get("hc.a1", f"{API}/nodes/{file['id']}").status_code == 404
    assert node(drive, "si.a1", file["id"])["classification"] == "confidential"


def test_classifying_above_your_clearance_is_403(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    response = create_folder(drive, "hc.a1", unit_root, "too high", classification="confidential")
    assert response.status_code == 403
    assert problem_code(response) == "classification_above_clearance"
    mine = drive.folder("hc.a1", drive.root("hc.a1"), "mine")
    patch = drive.patch("hc.a1", f"{API}/nodes/{mine['id']}", json={"classification": "secret"})
    assert patch.status_code == 403
    assert problem_code(patch) == "classification_above_clearance"
    assert node(drive, "hc.a1", mine["id"])["classification"] == "unclassified"
    # Up to one's own clearance is fine.
    ok = drive.patch("hc.a1", f"{API}/nodes/{mine['id']}", json={"classification": "restricted"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["classification"] == "restricted"
    assert names(children(drive, "hc.a1", unit_root)) == []


def test_classifying_needs_the_classify_right(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    folder = drive.folder("hc.a1", unit_root, "case")
    response = drive.patch(
        "si.a1", f"{API}/nodes/{folder['id']}", json={"classification": "restricted"}
    )
    assert response.status_code == 403
    assert problem_code(response) == "permission_denied"
    assert node(drive, "si.a1", folder["id"])["classification"] == "unclassified"


def test_copying_out_of_a_classified_folder_does_not_declassify(drive: Drive) -> None:
    """A file inside a confidential folder is confidential; so must be any copy of it."""
    unit_root = drive.root("hc.a1", "unit")
    folder = create_folder(drive, "sho.a1", unit_root, "case", classification="confidential")
    assert folder.status_code == 201, folder.text
    file = drive.upload("sho.a1", folder.json()["id"], "statement.txt", b"witness statement")
    assert file["classification"] == "confidential"
    # si.a1 is cleared for it, may write in the unit, but may not classify.
    response = drive.post("si.a1", f"{API}/nodes/{file['id']}/copy", json={"parent_id": unit_root})
    assert response.status_code in (201, 403), response.text
    if response.status_code == 201:
        assert response.json()["classification"] == "confidential"
        copy_id = response.json()["id"]
        assert drive.get("hc.a1", f"{API}/files/{copy_id}/content").status_code == 404
    assert "statement.txt" not in names(children(drive, "hc.a1", unit_root))
    assert "statement.txt" not in names(children(drive, "ct.a1", unit_root))
