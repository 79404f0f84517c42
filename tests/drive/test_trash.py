"""The trash over HTTP: delete, list, restore (home, renamed, elsewhere) and purge by an admin."""

from __future__ import annotations

from typing import Any

from tests.drive.conftest import Drive

API = "/api/v1"


def code(response: Any) -> str:
    return str(response.json()["code"])


def status(drive: Drive, who: str, node_id: int) -> int:
    return int(drive.get(who, f"{API}/nodes/{node_id}").status_code)


def names(drive: Drive, who: str, folder_id: int) -> list[str]:
    response = drive.get(who, f"{API}/nodes/{folder_id}/children")
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def trash_ids(drive: Drive, who: str, space_id: int) -> list[int]:
    response = drive.get(who, f"{API}/spaces/{space_id}/trash")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def delete(drive: Drive, who: str, node_id: int) -> None:
    response = drive.delete(who, f"{API}/nodes/{node_id}")
    assert response.status_code == 204, response.text


def restore(drive: Drive, who: str, node_id: int, **body: object) -> Any:
    return drive.post(who, f"{API}/nodes/{node_id}/restore", json=body or None)


def space(drive: Drive, who: str, kind: str = "user") -> dict[str, Any]:
    return dict(drive.space(who, kind))


def used_bytes(drive: Drive, who: str, kind: str = "user") -> int:
    return drive.used_bytes(who, kind)


def test_delete_moves_to_the_trash_and_restore_brings_back(drive: Drive) -> None:
    mine = space(drive, "hc.a1")
    root = mine["root_id"]
    folder = drive.folder("hc.a1", root, "folder")
    file = drive.upload("hc.a1", folder["id"], "a.txt", b"abc")
    assert trash_ids(drive, "hc.a1", mine["id"]) == []

    delete(drive, "hc.a1", file["id"])
    assert status(drive, "hc.a1", file["id"]) == 404
    assert drive.get("hc.a1", f"{API}/files/{file['id']}/content").status_code == 404
    assert names(drive, "hc.a1", folder["id"]) == []
    trash = drive.get("hc.a1", f"{API}/spaces/{mine['id']}/trash").json()
    assert [item["id"] for item in trash] == [file["id"]]
    assert trash[0]["trashed_at"] is not None
    assert trash[0]["path"] == "/folder/a.txt"

    response = restore(drive, "hc.a1", file["id"])
    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == folder["id"]
    assert response.json()["trashed_at"] is None
    assert names(drive, "hc.a1", folder["id"]) == ["a.txt"]
    assert drive.get("hc.a1", f"{API}/files/{file['id']}/content").content == b"abc"
    assert trash_ids(drive, "hc.a1", mine["id"]) == []


def test_deleted_name_is_free_again(drive: Drive) -> None:
    root = drive.root("hc.a1")
    first = drive.folder("hc.a1", root, "reports")
    delete(drive, "hc.a1", first["id"])
    second = drive.folder("hc.a1", root, "reports")
    assert second["id"] != first["id"]
    assert names(drive, "hc.a1", root) == ["reports"]


def test_delete_and_restore_a_folder_with_its_files(drive: Drive) -> None:
    mine = space(drive, "hc.a1")
    root = mine["root_id"]
    folder = drive.folder("hc.a1", root, "case")
    inner = drive.folder("hc.a1", folder["id"], "inner")
    one = drive.upload("hc.a1", folder["id"], "one.txt", b"one")
    two = drive.upload("hc.a1", inner["id"], "two.txt", b"two")

    delete(drive, "hc.a1", folder["id"])
    for node_id in (folder["id"], inner["id"], one["id"], two["id"]):
        assert status(drive, "hc.a1", node_id) == 404
    assert drive.get("hc.a1", f"{API}/files/{two['id']}/content").status_code == 404
    # Only what was deleted is listed; what was inside it comes back with it.
    assert trash_ids(drive, "hc.a1", mine["id"]) == [folder["id"]]
    assert names(drive, "hc.a1", root) == []
    # A file inside a deleted folder cannot be restored on its own.
    inside = restore(drive, "hc.a1", one["id"])
    assert inside.status_code == 409
    assert code(inside) == "inside_trash"

    response = restore(drive, "hc.a1", folder["id"])
    assert response.status_code == 200, response.text
    assert names(drive, "hc.a1", root) == ["case"]
    assert names(drive, "hc.a1", folder["id"]) == ["inner", "one.txt"]
    assert names(drive, "hc.a1", inner["id"]) == ["two.txt"]
    assert drive.get("hc.a1", f"{API}/files/{one['id']}/content").content == b"one"
    assert drive.get("hc.a1", f"{API}/files/{two['id']}/content").content == b"two"
    assert trash_ids(drive, "hc.a1", mine["id"]) == []


def test_restore_when_the_name_is_taken(drive: Drive) -> None:
    root = drive.root("hc.a1")
    old = drive.upload("hc.a1", root, "a.txt", b"old")
    delete(drive, "hc.a1", old["id"])
    drive.upload("hc.a1", root, "a.txt", b"new")

    taken = restore(drive, "hc.a1", old["id"])
    assert taken.status_code == 409
    assert code(taken) == "name_taken"
    assert status(drive, "hc.a1", old["id"]) == 404

    response = restore(drive, "hc.a1", old["id"], name="other")
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "other"
    assert response.json()["parent_id"] == root
    assert names(drive, "hc.a1", root) == ["a.txt", "other"]
    assert drive.get("hc.a1", f"{API}/files/{old['id']}/content").content == b"old"


def test_restore_when_the_folder_is_gone_too(drive: Drive) -> None:
    mine = space(drive, "hc.a1")
    root = mine["root_id"]
    folder = drive.folder("hc.a1", root, "folder")
    file = drive.upload("hc.a1", folder["id"], "a.txt", b"abc")
    delete(drive, "hc.a1", file["id"])
    delete(drive, "hc.a1", folder["id"])

    gone = restore(drive, "hc.a1", file["id"])
    assert gone.status_code == 409
    assert code(gone) == "restore_target_gone"

    response = restore(drive, "hc.a1", file["id"], parent_id=root)
    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == root
    assert response.json()["path"] == "/a.txt"
    assert names(drive, "hc.a1", root) == ["a.txt"]
    assert drive.get("hc.a1", f"{API}/files/{file['id']}/content").content == b"abc"
    # The folder stays in the trash, now empty of the file.
    assert status(drive, "hc.a1", folder["id"]) == 404
    restored_folder = restore(drive, "hc.a1", folder["id"])
    assert restored_folder.status_code == 200, restored_folder.text
    assert names(drive, "hc.a1", folder["id"]) == []


def test_restore_of_a_live_node_is_409(drive: Drive) -> None:
    file = drive.upload("hc.a1", drive.root("hc.a1"), "a.txt", b"a")
    response = restore(drive, "hc.a1", file["id"])
    assert response.status_code == 409
    assert code(response) == "not_in_trash"


def test_trash_of_another_space_shows_nothing_and_restores_nothing(drive: Drive) -> None:
    mine = space(drive, "hc.a1")
    file = drive.upload("hc.a1", mine["root_id"], "a.txt", b"a")
    delete(drive, "hc.a1", file["id"])
    trash = drive.get("hc.b1", f"{API}/spaces/{mine['id']}/trash")
    assert trash.status_code in (200, 404)
    if trash.status_code == 200:
        assert trash.json() == []
    assert restore(drive, "hc.b1", file["id"]).status_code == 404
    assert status(drive, "hc.a1", file["id"]) == 404


def test_constable_cannot_delete_in_the_unit_space(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    file = drive.upload("hc.a1", unit_root, "register.txt", b"r")
    response = drive.delete("ct.a1", f"{API}/nodes/{file['id']}")
    assert response.status_code == 403
    assert code(response) == "permission_denied"
    assert status(drive, "ct.a1", file["id"]) == 200


def test_root_cannot_be_deleted(drive: Drive) -> None:
    for who, kind in (("hc.a1", "user"), ("sho.a1", "unit")):
        root = drive.root(who, kind)
        response = drive.delete(who, f"{API}/nodes/{root}")
        assert response.status_code == 409, (who, kind)
        assert code(response) == "is_root"
        assert status(drive, who, root) == 200


def test_admin_purges_a_trashed_node(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "old")
    file = drive.upload("hc.a1", folder["id"], "a.txt", b"x" * 1000)
    second = drive.put("hc.a1", f"{API}/files/{file['id']}/content", content=b"y" * 500)
    assert second.status_code == 200, second.text
    keep = drive.upload("hc.a1", root, "keep.txt", b"k" * 10)
    assert used_bytes(drive, "hc.a1") == 1510
    delete(drive, "hc.a1", folder["id"])
    assert used_bytes(drive, "hc.a1") == 1510  # the trash still counts

    response = drive.delete("admin", f"{API}/admin/nodes/{folder['id']}")
    assert response.status_code == 204, response.text
    assert used_bytes(drive, "hc.a1") == 10
    assert trash_ids(drive, "hc.a1", space(drive, "hc.a1")["id"]) == []
    assert restore(drive, "hc.a1", folder["id"]).status_code == 404
    assert restore(drive, "hc.a1", file["id"]).status_code == 404
    assert drive.get("hc.a1", f"{API}/files/{keep['id']}/content").content == b"k" * 10
    assert drive.delete("admin", f"{API}/admin/nodes/{folder['id']}").status_code == 404


def test_purge_only_takes_what_is_in_the_trash(drive: Drive) -> None:
    file = drive.upload("hc.a1", drive.root("hc.a1"), "a.txt", b"abc")
    response = drive.delete("admin", f"{API}/admin/nodes/{file['id']}")
    assert response.status_code == 409
    assert code(response) == "not_in_trash"
    assert drive.get("hc.a1", f"{API}/files/{file['id']}/content").content == b"abc"
    assert used_bytes(drive, "hc.a1") == 3


def test_purge_is_for_administrators_only(drive: Drive) -> None:
    file = drive.upload("sho.a1", drive.root("sho.a1"), "a.txt", b"abc")
    delete(drive, "sho.a1", file["id"])
    for who in ("sho.a1", "sdop.a", "hc.a1"):
        response = drive.delete(who, f"{API}/admin/nodes/{file['id']}")
        assert response.status_code == 403, who
        assert code(response) == "admin_required"
    restored = restore(drive, "sho.a1", file["id"])
    assert restored.status_code == 200, restored.text
    assert used_bytes(drive, "sho.a1") == 3


def test_purge_takes_the_previews_of_the_purged_versions_with_it(drive: Drive) -> None:
    import io

    from PIL import Image

    from polaris.handlers import settle
    from polaris.ingest.models import Rendition

    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(picture, format="PNG")
    root = drive.root("hc.a1")
    file = drive.upload("hc.a1", root, "scene.png", picture.getvalue())
    assert settle(drive.instance)[1] >= 1  # the stream asks for the previews; they are drawn

    def renditions() -> int:
        session = drive.instance.sessions()
        count = session.query(Rendition).count()
        session.close()
        return count

    assert renditions() >= 2  # thumbnail and page 1 (and the OCR PDF)
    delete(drive, "hc.a1", file["id"])
    response = drive.delete("admin", f"{API}/admin/nodes/{file['id']}")
    assert response.status_code == 204, response.text
    assert renditions() == 0  # with the version rows, in the purge's transaction
    assert settle(drive.instance)[0] >= 1  # the consumers follow the purge without failing
