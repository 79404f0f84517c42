"""A folder or a selection as a streamed ZIP: what is in it, who may, the audit, and memory."""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
import zipfile

import pytest
from sqlalchemy import func, select

from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.clock import utcnow
from polaris.drive import scanning, zipping
from polaris.drive.models import ContentScan, FileVersion
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from tests.drive.conftest import CHUNK, Drive

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

API = "/api/v1"


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


def reads_of(drive: Drive, who: str) -> list[int]:
    session = drive.instance.sessions()
    try:
        rows = session.scalars(
            select(AuditRecord.object_id).where(
                AuditRecord.action == "file.read", AuditRecord.actor_name == who
            )
        )
        return sorted(int(row) for row in rows)
    finally:
        session.close()


def test_a_folder_downloads_as_a_zip_with_hindi_names_and_every_file_audited(
    drive: Drive,
) -> None:
    root = drive.root("hc.a1")
    case = drive.folder("hc.a1", root, "अपराध क्र. 45")
    inner = drive.folder("hc.a1", case["id"], "बयान")
    drive.folder("hc.a1", case["id"], "empty")
    one = drive.upload("hc.a1", case["id"], "रिपोर्ट.txt", b"first report")
    two = drive.upload("hc.a1", inner["id"], "statement.txt", b"a statement" * 1000)

    response = drive.get("hc.a1", f"{API}/nodes/{case['id']}/zip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    files = read_zip(response.content)
    assert files == {
        "अपराध क्र. 45/": b"",
        "अपराध क्र. 45/बयान/": b"",
        "अपराध क्र. 45/empty/": b"",
        "अपराध क्र. 45/रिपोर्ट.txt": b"first report",
        "अपराध क्र. 45/बयान/statement.txt": b"a statement" * 1000,
    }
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        hindi = archive.getinfo("अपराध क्र. 45/रिपोर्ट.txt")
        assert hindi.flag_bits & 0x800  # names stored as UTF-8 (bit 11)
    assert reads_of(drive, "hc.a1") == sorted([one["id"], two["id"]])


def test_hidden_files_are_absent_without_a_trace(drive: Drive) -> None:
    unit_root = drive.root("sho.a1", "unit")
    folder = drive.folder("sho.a1", unit_root, "station")
    drive.upload("sho.a1", folder["id"], "open.txt", b"open")
    secret = drive.post(
        "sho.a1",
        f"{API}/nodes/{folder['id']}/folders",
        json={"name": "secret", "classification": "secret"},
    ).json()
    drive.upload("sho.a1", secret["id"], "plans.txt", b"plans")
    hidden_file = drive.upload("sho.a1", folder["id"], "hidden.txt", b"hidden")
    assert (
        drive.patch(
            "sho.a1", f"{API}/nodes/{hidden_file['id']}", json={"classification": "secret"}
        ).status_code
        == 200
    )

    files = read_zip(drive.get("hc.a1", f"{API}/nodes/{folder['id']}/zip").content)
    assert files == {"station/": b"", "station/open.txt": b"open"}  # no note, no count
    everything = read_zip(drive.get("sho.a1", f"{API}/nodes/{folder['id']}/zip").content)
    assert set(everything) == {
        "station/",
        "station/open.txt",
        "station/hidden.txt",
        "station/secret/",
        "station/secret/plans.txt",
    }


def test_a_hidden_or_missing_top_node_is_404_alike(drive: Drive) -> None:
    private = drive.folder("sho.a1", drive.root("sho.a1"), "mine")
    hidden = drive.get("hc.a1", f"{API}/nodes/{private['id']}/zip")
    missing = drive.get("hc.a1", f"{API}/nodes/99999999/zip")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    selection = drive.post("hc.a1", f"{API}/zip", json={"node_ids": [private["id"]]})
    assert selection.status_code == 404
    assert drive.post("hc.a1", f"{API}/zip", json={"node_ids": []}).status_code == 422


def test_quarantined_and_held_files_are_left_out_and_named_in_a_note(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "mixed")
    drive.upload("hc.a1", folder["id"], "clean.txt", b"clean")
    bad = drive.upload("hc.a1", folder["id"], "virus.exe", b"pretend infected")
    held = drive.upload("hc.a1", folder["id"], "new.txt", b"pretend pending")
    session = drive.instance.sessions()
    for data, state in ((b"pretend infected", scanning.INFECTED), (b"pretend pending", "pending")):
        version = session.scalars(
            select(FileVersion).where(FileVersion.sha256 == hashlib.sha256(data).hexdigest())
        ).one()
        session.add(
            ContentScan(
                sha256=version.sha256,
                state=state,
                uploader_id=drive.user_ids["sdop.a"],  # someone else: held from hc.a1 too
                version_id=version.id,
                created_at=utcnow(),
            )
        )
    session.commit()
    session.close()

    response = drive.get("hc.a1", f"{API}/nodes/{folder['id']}/zip")
    files = read_zip(response.content)
    assert files["mixed/clean.txt"] == b"clean"
    assert "mixed/virus.exe" not in files and "mixed/new.txt" not in files
    note = files["NOT-INCLUDED.txt"].decode()
    assert "mixed/virus.exe: the malware scan found it infected" in note
    assert "mixed/new.txt: the malware scan has not cleared it yet" in note
    assert bad["id"] not in reads_of(drive, "hc.a1")
    assert held["id"] not in reads_of(drive, "hc.a1")

    hindi = drive.client.get(
        f"{API}/nodes/{folder['id']}/zip",
        headers=drive.headers("hc.a1", **{"Accept-Language": "hi"}),
    )
    names = set(read_zip(hindi.content))
    assert "mixed/clean.txt" in names and len(names) == 3 and "शामिल-नहीं.txt" in names


def test_a_selection_from_two_folders_renames_a_clash(drive: Drive) -> None:
    root = drive.root("hc.a1")
    a = drive.folder("hc.a1", root, "a")
    b = drive.folder("hc.a1", root, "b")
    first = drive.upload("hc.a1", a["id"], "note.txt", b"from a")
    second = drive.upload("hc.a1", b["id"], "note.txt", b"from b")
    response = drive.post(
        "hc.a1", f"{API}/zip", json={"node_ids": [first["id"], second["id"], b["id"]]}
    )
    assert response.status_code == 200, response.text
    assert read_zip(response.content) == {
        "note.txt": b"from a",
        "note (2).txt": b"from b",
        "b/": b"",
        "b/note.txt": b"from b",
    }
    assert 'filename="polaris.zip"' in response.headers["content-disposition"]


def test_the_zip_streams_with_bounded_memory_and_audits_each_file_before_its_bytes(
    drive: Drive,
) -> None:
    """40 files of 4 chunks (10 MiB) come out piece by piece: no piece is larger than a chunk
    and the ZIP's overhead, a file's ``file.read`` is committed before its first piece, and the
    memory held at once stays far below the ZIP's size."""
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "many")
    size = 4 * CHUNK
    ids = [
        drive.upload("hc.a1", folder["id"], f"f{n:02}.bin", random.Random(n).randbytes(size))["id"]
        for n in range(40)
    ]
    session = drive.instance.sessions()
    user = session.scalars(select(User).where(User.username == "hc.a1")).one()
    actor = actor_for(session=session, user=user, auth_factors="token")
    context = AuditContext.system("zip-test")
    plan = zipping.plan_zip(session=session, actor=actor, context=context, node_ids=[folder["id"]])
    session.close()

    def audited() -> int:
        counting = drive.instance.sessions()
        try:
            return int(
                counting.scalar(
                    select(func.count()).where(
                        AuditRecord.action == "file.read", AuditRecord.actor_name == "zip-test"
                    )
                )
                or 0
            )
        finally:
            counting.close()

    total = 0
    largest = 0
    seen_after_first: int | None = None
    tracemalloc.start()
    try:
        body = zipping.stream_zip(
            plan,
            sessions=drive.instance.sessions,
            actor=actor,
            context=context,
            blobs=drive.instance.blobs,
            gettext=lambda text: text,
        )
        pieces = io.BytesIO()
        for piece in body:
            if seen_after_first is None and total > 0:
                seen_after_first = audited()
            total += len(piece)
            largest = max(largest, len(piece))
            pieces.write(piece)
            if pieces.tell() > size:
                pieces = io.BytesIO()  # the reader keeps nothing: only the stream's memory counts
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 40 * size  # random content does not compress
    assert largest <= CHUNK + 4096
    assert seen_after_first is not None and seen_after_first < 40  # audited as it goes
    assert audited() == 40
    assert peak < 8 * CHUNK + 2 * 1024 * 1024, peak  # far below the 10 MiB ZIP
    assert len(ids) == 40
