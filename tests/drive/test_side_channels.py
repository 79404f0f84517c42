"""Forbidden and missing look the same: the same answer, byte for byte, and the same audited denial.

An id the caller may not see (another station's, or above their clearance) and an id that does
not exist must not be told apart by status, body, headers or the work done: both leave a denial
in the audit log (a missing id's reason is ``missing``). Timing itself is measured by
``bench/oracle.py``, never here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris.audit.models import AuditRecord
from polaris.drive.models import FileVersion, Node, Share, Space
from tests.drive.conftest import Drive

API = "/api/v1"
TUS = {"Tus-Resumable": "1.0.0"}
#: Headers that differ between any two requests.
PER_REQUEST = {"x-request-id", "date"}


@dataclass(frozen=True)
class Hidden:
    """Ids of things the prober may not see, and ids of nothing at all."""

    folder: int
    file: int
    space: int
    share: int
    upload: str
    version: int
    missing_node: int
    missing_space: int
    missing_share: int
    missing_version: int


def _next_id(drive: Drive, column: Any) -> int:
    session: Session = drive.instance.sessions()
    try:
        return int(session.scalar(select(func.max(column))) or 0) + 1000
    finally:
        session.close()


def _b64(value: object) -> str:
    return base64.b64encode(str(value).encode()).decode()


def _tus_create(drive: Drive, who: str, parent: int) -> str:
    meta = f"filename {_b64('big.bin')},parent_id {_b64(parent)}"
    response = drive.post(
        who, f"{API}/uploads", headers={**TUS, "Upload-Length": "100", "Upload-Metadata": meta}
    )
    assert response.status_code == 201, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def _hidden(drive: Drive, owner: str) -> Hidden:
    root = drive.root(owner)
    folder = drive.folder(owner, root, "Malkhana")
    file = drive.upload(owner, folder["id"], "seized.txt", b"hidden content")
    shared = drive.post(
        owner,
        f"{API}/nodes/{file['id']}/shares",
        json={"subject_type": "user", "subject_id": drive.user_ids["admin"]},
    )
    assert shared.status_code == 201, shared.text
    versions = drive.get(owner, f"{API}/files/{file['id']}/versions").json()
    return Hidden(
        folder=folder["id"],
        file=file["id"],
        space=int(drive.space(owner)["id"]),  # type: ignore[call-overload]
        share=shared.json()["id"],
        upload=_tus_create(drive, owner, folder["id"]),
        version=versions[0]["id"],
        missing_node=_next_id(drive, Node.id),
        missing_space=_next_id(drive, Space.id),
        missing_share=_next_id(drive, Share.id),
        missing_version=_next_id(drive, FileVersion.id),
    )


def _same_answer(hidden: Any, missing: Any) -> None:
    assert hidden.status_code == missing.status_code == 404, (hidden.text, missing.text)
    assert hidden.content == missing.content
    strip = {k: v for k, v in hidden.headers.items() if k not in PER_REQUEST}
    assert strip == {k: v for k, v in missing.headers.items() if k not in PER_REQUEST}


def _denials(drive: Drive) -> list[tuple[str | None, str | None, str | None]]:
    session: Session = drive.instance.sessions()
    try:
        rows = session.execute(
            select(AuditRecord.action, AuditRecord.object_id, AuditRecord.reason)
            .where(AuditRecord.decision == "deny")
            .order_by(AuditRecord.id)  # the callers slice off what came before: insertion order
        ).all()
        return [(action, object_id, reason) for action, object_id, reason in rows]
    finally:
        session.close()


def _denied(drive: Drive, object_id: object, before: int) -> list[tuple[str | None, str | None]]:
    return [(a, r) for a, o, r in _denials(drive)[before:] if o == str(object_id)]


# (method, url, keyword arguments); {id} is the hidden or missing id, {own} the prober's root.
NODE_CALLS = [
    ("GET", "/nodes/{id}", {}),
    ("GET", "/nodes/{id}/children", {}),
    ("POST", "/nodes/{id}/folders", {"json": {"name": "probe"}}),
    ("PATCH", "/nodes/{id}", {"json": {"name": "probe"}}),
    ("POST", "/nodes/{id}/copy", {"json": {"parent_id": "{own}"}}),
    ("DELETE", "/nodes/{id}", {}),
    ("POST", "/nodes/{id}/restore", {}),
    ("GET", "/nodes/{id}/shares", {}),
    ("POST", "/nodes/{id}/shares", {"json": {"subject_type": "user", "subject_id": 1}}),
    ("POST", "/files?parent_id={id}&name=probe.txt", {"content": b"probe"}),
]
FILE_CALLS = [
    ("GET", "/files/{id}/content", {}),
    ("GET", "/files/{id}/versions", {}),
    ("PUT", "/files/{id}/content", {"content": b"probe"}),
]


def _fill(value: Any, ids: dict[str, object]) -> Any:
    if isinstance(value, str):
        for key, replacement in ids.items():
            if value == "{" + key + "}":
                return replacement
            value = value.replace("{" + key + "}", str(replacement))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _call(drive: Drive, who: str, method: str, url: str, kwargs: dict[str, Any], **ids: object):  # type: ignore[no-untyped-def]
    filled = _fill(kwargs, ids)
    headers = drive.headers(who, **filled.pop("headers", {}))
    return drive.client.request(method, API + _fill(url, ids), headers=headers, **filled)


def test_hidden_and_missing_nodes_answer_alike_and_are_both_audited(drive: Drive) -> None:
    """hc.a1 (station A) probes station B's ids and ids of nothing."""
    prober = "hc.a1"
    hidden = _hidden(drive, "hc.b1")
    own = drive.root(prober)
    for calls, hidden_id in ((NODE_CALLS, hidden.folder), (FILE_CALLS, hidden.file)):
        for method, url, kwargs in calls:
            before = len(_denials(drive))
            seen = _call(drive, prober, method, url, kwargs, id=hidden_id, own=own)
            absent = _call(drive, prober, method, url, kwargs, id=hidden.missing_node, own=own)
            _same_answer(seen, absent)
            hidden_denials = _denied(drive, hidden_id, before)
            missing_denials = _denied(drive, hidden.missing_node, before)
            assert len(hidden_denials) == 1, (method, url, hidden_denials)
            assert missing_denials == [(hidden_denials[0][0], "missing")], (method, url)


def test_hidden_by_clearance_in_a_readable_folder_answers_like_missing(drive: Drive) -> None:
    """ct.a1 reads PS-A1's unit space but not a Restricted file in it."""
    root = drive.root("hc.a1", "unit")
    created = drive.post(
        "hc.a1",
        f"{API}/nodes/{root}/folders",
        json={"name": "Restricted", "classification": "restricted"},
    )
    assert created.status_code == 201, created.text
    restricted = created.json()["id"]
    missing = _next_id(drive, Node.id)
    assert drive.get("ct.a1", f"{API}/nodes/{root}").status_code == 200
    for method, url, kwargs in NODE_CALLS:
        before = len(_denials(drive))
        seen = _call(drive, "ct.a1", method, url, kwargs, id=restricted, own=root)
        absent = _call(drive, "ct.a1", method, url, kwargs, id=missing, own=root)
        _same_answer(seen, absent)
        assert [r for _, r in _denied(drive, missing, before)] == ["missing"], (method, url)
        assert len(_denied(drive, restricted, before)) == 1, (method, url)


def test_hidden_and_missing_shares_spaces_versions_and_uploads(drive: Drive) -> None:
    hidden = _hidden(drive, "hc.b1")
    mine = drive.upload("hc.a1", drive.root("hc.a1"), "mine.txt", b"mine")
    cases = [
        ("DELETE", "/shares/{id}", {}, hidden.share, hidden.missing_share),
        ("GET", "/spaces/{id}", {}, hidden.space, hidden.missing_space),
        ("GET", "/spaces/{id}/trash", {}, hidden.space, hidden.missing_space),
        (
            "POST",
            f"/files/{mine['id']}/versions/{{id}}/restore",
            {},
            hidden.version,
            hidden.missing_version,
        ),
        ("HEAD", "/uploads/{id}", {"headers": TUS}, hidden.upload, "x" * 32),
        ("DELETE", "/uploads/{id}", {"headers": TUS}, hidden.upload, "y" * 32),
        (
            "PATCH",
            "/uploads/{id}",
            {
                "headers": {
                    **TUS,
                    "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream",
                },
                "content": b"probe",
            },
            hidden.upload,
            "z" * 32,
        ),
    ]
    for method, url, kwargs, hidden_id, missing_id in cases:
        before = len(_denials(drive))
        seen = _call(drive, "hc.a1", method, url, kwargs, id=hidden_id)
        absent = _call(drive, "hc.a1", method, url, kwargs, id=missing_id)
        _same_answer(seen, absent)
        hidden_denials = _denied(drive, hidden_id, before)
        assert len(hidden_denials) == 1, (method, url, hidden_denials)
        assert _denied(drive, missing_id, before) == [(hidden_denials[0][0], "missing")], url
    # The owner's things are untouched.
    assert drive.get("hc.b1", f"{API}/nodes/{hidden.file}").status_code == 200
    assert (
        drive.client.head(
            f"{API}/uploads/{hidden.upload}", headers=drive.headers("hc.b1", **TUS)
        ).status_code
        == 200
    )
    assert [s["share"]["id"] for s in drive.get("hc.b1", f"{API}/shares/by-me").json()] == [
        hidden.share
    ]


# Sizes and ETags: what moves when something hidden is stored


def _space_figures(drive: Drive, who: str, space_id: int) -> tuple[object, object]:
    response = drive.get(who, f"{API}/spaces/{space_id}")
    assert response.status_code == 200, response.text
    listed = [s for s in drive.get(who, f"{API}/spaces").json() if s["id"] == space_id]
    assert listed == [response.json()]
    return response.json()["quota_bytes"], response.json()["used_bytes"]


def test_quota_figures_only_for_those_who_see_the_whole_space(drive: Drive) -> None:
    """A Secret upload into PS-A1's space must not show in what a constable reads of it."""
    space = drive.space("sho.a1", "unit")
    space_id, root = int(space["id"]), int(space["root_id"])  # type: ignore[call-overload]
    drive.put("admin", f"{API}/admin/spaces/{space_id}/quota", json={"quota_bytes": 10**9})
    before = {who: _space_figures(drive, who, space_id) for who in ("ct.a1", "hc.a1", "si.a1")}
    secret = drive.post(
        "sho.a1", f"{API}/nodes/{root}/folders", json={"name": "S", "classification": "secret"}
    ).json()
    drive.upload("sho.a1", secret["id"], "hidden.bin", b"h" * 12_345)
    for who, figures in before.items():
        # Cleared below Secret: the figures would count the hidden bytes, so there are none.
        assert figures == (None, None), who
        assert _space_figures(drive, who, space_id) == figures, who
    # Cleared for Secret, reading by the unit rule (sho.a1) or supervisory reach (sdop.a).
    for who in ("sho.a1", "sdop.a"):
        assert _space_figures(drive, who, space_id) == (10**9, drive.used_bytes("sho.a1", "unit"))
    assert drive.used_bytes("sho.a1", "unit") >= 12_345


def test_quota_figures_are_not_shown_through_a_share(drive: Drive) -> None:
    """A share reaches part of a space: a Secret-cleared reader by share sees no figures."""
    root = drive.root("hc.b1")
    drive.upload("hc.b1", root, "f.txt", b"x" * 10)
    shared = drive.post(
        "hc.b1",
        f"{API}/nodes/{root}/shares",
        json={"subject_type": "user", "subject_id": drive.user_ids["sho.a1"]},
    )
    assert shared.status_code == 201, shared.text
    space_id = int(drive.space("hc.b1")["id"])  # type: ignore[call-overload]
    assert drive.get("sho.a1", f"{API}/nodes/{root}").status_code == 200
    own = drive.get("hc.b1", f"{API}/spaces/{space_id}").json()
    assert own["used_bytes"] is None  # its owner is cleared for Restricted only
    assert drive.get("sho.a1", f"{API}/spaces/{space_id}").status_code == 404


def _seen(drive: Drive, who: str, node_id: int) -> tuple[str, str]:
    response = drive.get(who, f"{API}/nodes/{node_id}")
    assert response.status_code == 200, response.text
    return response.json()["etag"], response.json()["modified_at"]


def _listed(drive: Drive, who: str, folder: int) -> dict[int, tuple[str, str]]:
    page = drive.get(who, f"{API}/nodes/{folder}/children").json()
    return {item["id"]: (item["etag"], item["modified_at"]) for item in page["items"]}


def test_a_folders_etag_does_not_move_for_changes_the_caller_cannot_see(drive: Drive) -> None:
    root = drive.root("sho.a1", "unit")
    cases = drive.folder("hc.a1", root, "Cases")["id"]
    watchers = ("ct.a1", "hc.a1", "si.a1")
    before = {who: (_seen(drive, who, root), _listed(drive, who, root)) for who in watchers}
    full_before = _seen(drive, "sho.a1", cases)

    # Secret work inside a folder the constables read: a Secret folder, a file in it, a Secret
    # file beside them, and a new version of it.
    secret = drive.post(
        "sho.a1", f"{API}/nodes/{cases}/folders", json={"name": "S", "classification": "secret"}
    ).json()
    drive.upload("sho.a1", secret["id"], "in-secret.txt", b"12345")
    hidden = drive.post(
        "sho.a1",
        f"{API}/nodes/{cases}/folders",
        json={"name": "C", "classification": "confidential"},
    ).json()
    drive.upload("sho.a1", hidden["id"], "c.txt", b"c", overwrite=True)
    drive.upload("sho.a1", hidden["id"], "c.txt", b"cc", overwrite=True)
    drive.patch("sho.a1", f"{API}/nodes/{hidden['id']}", json={"name": "C2"})

    for who in ("ct.a1", "hc.a1"):
        assert (_seen(drive, who, root), _listed(drive, who, root)) == before[who], who
    # si.a1 is cleared for Confidential: the Confidential folder's changes show, the Secret don't.
    assert _seen(drive, "si.a1", root)[0] != before["si.a1"][0][0]
    assert _seen(drive, "sho.a1", cases) != full_before

    # A visible change moves the ETag for everyone who can see it: sync clients rely on it.
    drive.upload("hc.a1", cases, "visible.txt", b"seen")
    for who in watchers:
        assert _seen(drive, who, root)[0] != before[who][0][0], who
        assert _listed(drive, who, root)[cases][0] != before[who][1][cases][0], who


def test_if_match_takes_the_etag_the_caller_sees(drive: Drive) -> None:
    root = drive.root("sho.a1", "unit")
    folder = drive.folder("hc.a1", root, "Register")["id"]
    etag, _ = _seen(drive, "hc.a1", folder)
    drive.post(
        "sho.a1", f"{API}/nodes/{folder}/folders", json={"name": "S", "classification": "secret"}
    )
    renamed = drive.patch(
        "hc.a1",
        f"{API}/nodes/{folder}",
        json={"name": "Register 2026"},
        headers={"If-Match": f'"{etag}"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["etag"] == _seen(drive, "hc.a1", folder)[0]


def test_declassifying_shows_the_change_to_the_newly_cleared(drive: Drive) -> None:
    root = drive.root("sho.a1", "unit")
    secret = drive.post(
        "sho.a1", f"{API}/nodes/{root}/folders", json={"name": "S", "classification": "secret"}
    ).json()
    inner = drive.folder("sho.a1", secret["id"], "inner")
    drive.upload("sho.a1", inner["id"], "a.txt", b"a")
    root_before = _seen(drive, "ct.a1", root)[0]
    lowered = drive.patch(
        "sho.a1", f"{API}/nodes/{secret['id']}", json={"classification": "unclassified"}
    )
    assert lowered.status_code == 200, lowered.text
    assert _seen(drive, "ct.a1", root)[0] != root_before
    # Below it too: inner's content was Secret by inheritance, a constable's client never saw it.
    assert _seen(drive, "ct.a1", inner["id"])[0] == _seen(drive, "sho.a1", inner["id"])[0]


def test_raising_a_folder_out_of_sight_moves_its_parents_etag(drive: Drive) -> None:
    root = drive.root("sho.a1", "unit")
    folder = drive.folder("sho.a1", root, "Once visible")["id"]
    before = _seen(drive, "ct.a1", root)[0]
    raised = drive.patch("sho.a1", f"{API}/nodes/{folder}", json={"classification": "secret"})
    assert raised.status_code == 200, raised.text
    assert _seen(drive, "ct.a1", root)[0] != before  # something the constable saw is gone
    assert folder not in _listed(drive, "ct.a1", root)
