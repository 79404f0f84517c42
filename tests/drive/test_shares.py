"""Shares over HTTP: to users, units (and the units below) and groups; expiry and revoke."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from polaris.drive.models import Share
from polaris.identity import groups
from tests.drive.conftest import Drive
from tests.factories import SYSTEM

API = "/api/v1"


def share(
    drive: Drive,
    who: str,
    node_id: int,
    subject_type: str,
    subject_id: int,
    permission: str = "read",
    **extra: object,
) -> Any:
    body = {
        "subject_type": subject_type,
        "subject_id": subject_id,
        "permission": permission,
        **extra,
    }
    return drive.post(who, f"{API}/nodes/{node_id}/shares", json=body)


def shared(drive: Drive, who: str, node_id: int, *args: Any, **kwargs: Any) -> dict[str, Any]:
    response = share(drive, who, node_id, *args, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def can_read(drive: Drive, who: str, node_id: int) -> bool:
    status = drive.get(who, f"{API}/nodes/{node_id}").status_code
    assert status in (200, 404), status
    return status == 200


def with_me(drive: Drive, who: str) -> list[int]:
    response = drive.get(who, f"{API}/shares/with-me")
    assert response.status_code == 200, response.text
    return [item["node"]["id"] for item in response.json()]


def code(response: Any) -> str:
    return str(response.json()["code"])


def in_an_hour() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()


@pytest.fixture
def files(drive: Drive) -> dict[str, dict[str, Any]]:
    """Two files side by side in hc.a1's personal space."""
    root = drive.root("hc.a1")
    return {
        "shared": drive.upload("hc.a1", root, "shared.txt", b"for your eyes"),
        "sibling": drive.upload("hc.a1", root, "sibling.txt", b"not for you"),
    }


def test_read_share_with_a_user(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    file = files["shared"]
    assert not can_read(drive, "hc.b1", file["id"])
    assert with_me(drive, "hc.b1") == []

    created = shared(drive, "hc.a1", file["id"], "user", drive.user_ids["hc.b1"])
    assert created["node_id"] == file["id"]
    assert created["permission"] == "read"
    assert created["created_by"] == drive.user_ids["hc.a1"]

    response = drive.get("hc.b1", f"{API}/shares/with-me")
    (item,) = response.json()
    assert item["share"]["id"] == created["id"]
    assert item["node"]["id"] == file["id"]
    assert item["node"]["name"] == "shared.txt"
    assert item["node"]["permissions"] == ["read"]
    download = drive.get("hc.b1", f"{API}/files/{file['id']}/content")
    assert download.status_code == 200
    assert download.content == b"for your eyes"


def test_read_share_does_not_allow_writing(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    file = files["shared"]
    shared(drive, "hc.a1", file["id"], "user", drive.user_ids["hc.b1"])
    write = drive.put("hc.b1", f"{API}/files/{file['id']}/content", content=b"changed")
    assert write.status_code == 403
    assert code(write) == "permission_denied"
    rename = drive.patch("hc.b1", f"{API}/nodes/{file['id']}", json={"name": "mine.txt"})
    assert rename.status_code == 403
    delete = drive.delete("hc.b1", f"{API}/nodes/{file['id']}")
    assert delete.status_code == 403
    reshare = share(drive, "hc.b1", file["id"], "user", drive.user_ids["hc.a2"])
    assert reshare.status_code == 403
    assert drive.get("hc.a1", f"{API}/files/{file['id']}/content").content == b"for your eyes"
    assert not can_read(drive, "hc.a2", file["id"])


def test_share_reaches_nothing_beside_the_node(
    drive: Drive, files: dict[str, dict[str, Any]]
) -> None:
    shared(drive, "hc.a1", files["shared"]["id"], "user", drive.user_ids["hc.b1"])
    root = drive.root("hc.a1")
    sibling = files["sibling"]["id"]
    assert drive.get("hc.b1", f"{API}/nodes/{sibling}").status_code == 404
    assert drive.get("hc.b1", f"{API}/files/{sibling}/content").status_code == 404
    assert drive.get("hc.b1", f"{API}/nodes/{root}").status_code == 404
    assert drive.get("hc.b1", f"{API}/nodes/{root}/children").status_code == 404


def test_folder_share_covers_what_is_inside(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "case")
    inner = drive.folder("hc.a1", folder["id"], "statements")
    file = drive.upload("hc.a1", inner["id"], "s1.txt", b"statement")
    outside = drive.upload("hc.a1", root, "outside.txt", b"outside")
    shared(drive, "hc.a1", folder["id"], "user", drive.user_ids["hc.b1"])
    listing = drive.get("hc.b1", f"{API}/nodes/{inner['id']}/children")
    assert listing.status_code == 200
    assert [item["name"] for item in listing.json()["items"]] == ["s1.txt"]
    assert drive.get("hc.b1", f"{API}/files/{file['id']}/content").content == b"statement"
    assert not can_read(drive, "hc.b1", outside["id"])
    assert with_me(drive, "hc.b1") == [folder["id"]]


def test_edit_share_allows_a_new_version(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    file = files["shared"]
    shared(drive, "hc.a1", file["id"], "user", drive.user_ids["hc.b1"], "edit")
    response = drive.put("hc.b1", f"{API}/files/{file['id']}/content", content=b"edited")
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert drive.get("hc.a1", f"{API}/files/{file['id']}/content").content == b"edited"
    versions = drive.get("hc.a1", f"{API}/files/{file['id']}/versions").json()
    assert [v["created_by"] for v in versions] == [
        drive.user_ids["hc.b1"],
        drive.user_ids["hc.a1"],
    ]
    # Edit is not manage: no deleting and no sharing on.
    assert drive.delete("hc.b1", f"{API}/nodes/{file['id']}").status_code == 403
    reshare = share(drive, "hc.b1", file["id"], "user", drive.user_ids["hc.a2"])
    assert reshare.status_code == 403
    # Nor writing beside it.
    sibling = drive.put("hc.b1", f"{API}/files/{files['sibling']['id']}/content", content=b"x")
    assert sibling.status_code == 404


def test_unit_share_reaches_the_units_members(
    drive: Drive, files: dict[str, dict[str, Any]]
) -> None:
    file = files["shared"]
    shared(drive, "hc.a1", file["id"], "unit", drive.unit_ids["PS-B1"])
    assert can_read(drive, "hc.b1", file["id"])
    assert with_me(drive, "hc.b1") == [file["id"]]
    assert drive.get("hc.b1", f"{API}/files/{file['id']}/content").content == b"for your eyes"
    assert not can_read(drive, "hc.a2", file["id"])
    assert with_me(drive, "hc.a2") == []


def test_unit_share_includes_subunits_only_when_asked(drive: Drive) -> None:
    root = drive.root("hc.a1")
    narrow = drive.upload("hc.a1", root, "narrow.txt", b"n")
    wide = drive.upload("hc.a1", root, "wide.txt", b"w")
    sdv_a = drive.unit_ids["SDV-A"]
    shared(drive, "hc.a1", narrow["id"], "unit", sdv_a)
    created = shared(drive, "hc.a1", wide["id"], "unit", sdv_a, include_subunits=True)
    assert created["include_subunits"] is True

    assert not can_read(drive, "hc.a2", narrow["id"])
    assert can_read(drive, "hc.a2", wide["id"])
    assert with_me(drive, "hc.a2") == [wide["id"]]
    assert drive.get("hc.a2", f"{API}/files/{wide['id']}/content").content == b"w"
    # The unit itself is reached either way; units elsewhere never.
    assert can_read(drive, "sdop.a", narrow["id"])
    assert can_read(drive, "sdop.a", wide["id"])
    assert not can_read(drive, "hc.b1", wide["id"])


def test_include_subunits_needs_a_unit(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    response = share(
        drive,
        "hc.a1",
        files["shared"]["id"],
        "user",
        drive.user_ids["hc.b1"],
        include_subunits=True,
    )
    assert response.status_code == 422
    assert code(response) == "bad_share"


def test_share_with_a_group(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    with drive.instance.sessions() as session:
        group = groups.create_group(session=session, name="विशेष दल", unit_id=None, context=SYSTEM)
        for member in ("hc.b1", "hc.a1"):  # the sharer must see the group (a member does)
            groups.add_member(
                session=session, group_id=group.id, user_id=drive.user_ids[member], context=SYSTEM
            )
        session.commit()
        group_id = group.id
    file = files["shared"]
    assert not can_read(drive, "hc.b1", file["id"])
    shared(drive, "hc.a1", file["id"], "group", group_id)
    assert can_read(drive, "hc.b1", file["id"])
    assert with_me(drive, "hc.b1") == [file["id"]]
    assert not can_read(drive, "hc.a2", file["id"])
    assert with_me(drive, "hc.a2") == []


def test_share_with_someone_who_does_not_exist(
    drive: Drive, files: dict[str, dict[str, Any]]
) -> None:
    for subject_type in ("user", "unit", "group"):
        response = share(drive, "hc.a1", files["shared"]["id"], subject_type, 987654)
        assert response.status_code == 404, subject_type
        assert code(response) == "share_subject_not_found"


def test_expired_share_grants_nothing(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    file = files["shared"]
    created = shared(
        drive, "hc.a1", file["id"], "user", drive.user_ids["hc.b1"], expires_at=in_an_hour()
    )
    assert created["expires_at"] is not None
    assert can_read(drive, "hc.b1", file["id"])
    with drive.instance.sessions() as session:
        session.execute(
            update(Share)
            .where(Share.id == created["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        session.commit()
    assert not can_read(drive, "hc.b1", file["id"])
    assert drive.get("hc.b1", f"{API}/files/{file['id']}/content").status_code == 404
    assert with_me(drive, "hc.b1") == []


def test_expired_share_on_a_folder_grants_nothing_inside(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "case")
    file = drive.upload("hc.a1", folder["id"], "a.txt", b"a")
    created = shared(
        drive, "hc.a1", folder["id"], "user", drive.user_ids["hc.b1"], expires_at=in_an_hour()
    )
    assert can_read(drive, "hc.b1", file["id"])
    with drive.instance.sessions() as session:
        session.execute(
            update(Share)
            .where(Share.id == created["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        session.commit()
    assert not can_read(drive, "hc.b1", file["id"])
    assert drive.get("hc.b1", f"{API}/nodes/{folder['id']}/children").status_code == 404


def test_expiry_in_the_past_is_refused(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    response = share(
        drive, "hc.a1", files["shared"]["id"], "user", drive.user_ids["hc.b1"], expires_at=past
    )
    assert response.status_code == 422
    assert code(response) == "expiry_in_past"
    assert not can_read(drive, "hc.b1", files["shared"]["id"])


def test_expiry_without_a_timezone_is_not_a_server_error(
    drive: Drive, files: dict[str, dict[str, Any]]
) -> None:
    """A client may send ``2030-01-01T00:00:00``: take it as UTC or refuse it, but no 500."""
    response = share(
        drive,
        "hc.a1",
        files["shared"]["id"],
        "user",
        drive.user_ids["hc.b1"],
        expires_at="2030-01-01T00:00:00",
    )
    assert response.status_code in (201, 422), response.text


def test_revoked_share_grants_nothing(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    file = files["shared"]
    created = shared(drive, "hc.a1", file["id"], "user", drive.user_ids["hc.b1"])
    assert can_read(drive, "hc.b1", file["id"])
    # Someone who cannot see the node cannot revoke its share.
    assert drive.delete("hc.a2", f"{API}/shares/{created['id']}").status_code == 404
    assert can_read(drive, "hc.b1", file["id"])

    response = drive.delete("hc.a1", f"{API}/shares/{created['id']}")
    assert response.status_code == 204
    assert not can_read(drive, "hc.b1", file["id"])
    assert drive.get("hc.b1", f"{API}/files/{file['id']}/content").status_code == 404
    assert with_me(drive, "hc.b1") == []
    assert drive.get("hc.a1", f"{API}/shares/by-me").json() == []
    assert drive.get("hc.a1", f"{API}/nodes/{file['id']}/shares").json() == []
    assert drive.delete("hc.a1", f"{API}/shares/{created['id']}").status_code == 404


def test_shared_by_me(drive: Drive, files: dict[str, dict[str, Any]]) -> None:
    assert drive.get("hc.a1", f"{API}/shares/by-me").json() == []
    one = shared(drive, "hc.a1", files["shared"]["id"], "user", drive.user_ids["hc.b1"])
    two = shared(drive, "hc.a1", files["sibling"]["id"], "unit", drive.unit_ids["PS-A2"])
    response = drive.get("hc.a1", f"{API}/shares/by-me")
    assert response.status_code == 200
    listed = {item["share"]["id"]: item for item in response.json()}
    assert set(listed) == {one["id"], two["id"]}
    assert listed[one["id"]]["node"]["name"] == "shared.txt"
    assert listed[two["id"]]["share"]["subject_type"] == "unit"
    assert listed[two["id"]]["share"]["subject_id"] == drive.unit_ids["PS-A2"]
    assert drive.get("hc.b1", f"{API}/shares/by-me").json() == []
    on_node = drive.get("hc.a1", f"{API}/nodes/{files['shared']['id']}/shares")
    assert [s["id"] for s in on_node.json()] == [one["id"]]
    # The grantee may read the node but not see who else has it.
    assert drive.get("hc.b1", f"{API}/nodes/{files['shared']['id']}/shares").status_code == 403


def test_sharing_needs_the_share_right(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    file = drive.upload("hc.a1", unit_root, "register.txt", b"r")
    for who in ("ct.a1", "hc.a1"):
        response = share(drive, who, file["id"], "user", drive.user_ids["hc.b1"])
        assert response.status_code == 403, who
        assert code(response) == "permission_denied"
    assert not can_read(drive, "hc.b1", file["id"])
    allowed = share(drive, "si.a1", file["id"], "user", drive.user_ids["hc.b1"])
    assert allowed.status_code == 201, allowed.text
    assert can_read(drive, "hc.b1", file["id"])


def test_sharing_never_overrides_clearance(drive: Drive) -> None:
    root = drive.root("sho.a1")
    file = drive.upload("sho.a1", root, "confidential.txt", b"c")
    response = drive.patch(
        "sho.a1", f"{API}/nodes/{file['id']}", json={"classification": "confidential"}
    )
    assert response.status_code == 200, response.text
    for who in ("hc.b1", "si.a1"):
        shared(drive, "sho.a1", file["id"], "user", drive.user_ids[who], "manage")
    assert not can_read(drive, "hc.b1", file["id"])
    assert drive.get("hc.b1", f"{API}/files/{file['id']}/content").status_code == 404
    assert with_me(drive, "hc.b1") == []
    # Someone cleared for it does get it.
    assert can_read(drive, "si.a1", file["id"])
    assert with_me(drive, "si.a1") == [file["id"]]


def test_classified_folder_hides_its_files_from_a_share(drive: Drive) -> None:
    root = drive.root("sho.a1")
    folder = drive.post(
        "sho.a1",
        f"{API}/nodes/{root}/folders",
        json={"name": "secret case", "classification": "secret"},
    )
    assert folder.status_code == 201, folder.text
    file = drive.upload("sho.a1", folder.json()["id"], "a.txt", b"a")
    shared(drive, "sho.a1", file["id"], "user", drive.user_ids["si.a1"])
    assert not can_read(drive, "si.a1", file["id"])
    assert with_me(drive, "si.a1") == []
