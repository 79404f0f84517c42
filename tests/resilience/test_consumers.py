"""The guard's consumer over a real instance: encryption in progress freezes the account (reads
still work, writes are refused with ``writes_frozen`` and audited), ordinary work with formats as
random as ciphertext (ZIP, JPEG, PDF, password-protected PDF) does not; a canary and ransom names
count; the restore brings every file back byte-identical, as new versions."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile

from PIL import Image
from sqlalchemy import select

from polaris import events
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.handlers import load_consumers
from polaris.identity.models import User
from polaris.resilience import scoring, service
from tests.drive.conftest import Drive, drive
from tests.support.statements import counting

__all__ = ["drive"]

API = "/api/v1"
ADMIN = AuditContext.system("cli:test")


def text(index: int) -> bytes:
    return (f"FIR {index}: statement of the witness, recorded at the station.\n" * 80).encode()


def frozen(drive: Drive, who: str) -> bool:
    with drive.instance.sessions() as session:
        user = session.get(User, drive.user_ids[who])
        assert user is not None
        return user.writes_frozen_at is not None


def catch_up(drive: Drive) -> None:
    load_consumers()
    events.drain(drive.instance.sessions)


def files(drive: Drive, who: str, count: int, make=text) -> list[int]:  # type: ignore[no-untyped-def]
    root = drive.root(who)
    return [drive.upload(who, root, f"note-{i}.txt", make(i))["id"] for i in range(count)]


def test_overwriting_files_with_random_bytes_freezes_the_account(drive: Drive) -> None:
    catch_up(drive)  # the guard starts at the head ("now")
    ids = files(drive, "hc.a1", 12)
    catch_up(drive)
    originals = {}
    for node_id in ids:
        originals[node_id] = drive.get("hc.a1", f"{API}/files/{node_id}/content").content
        response = drive.put("hc.a1", f"{API}/files/{node_id}/content", content=os.urandom(4096))
        assert response.status_code == 200
    assert not frozen(drive, "hc.a1")  # the consumer runs after the commits
    catch_up(drive)
    assert frozen(drive, "hc.a1")

    refused = drive.put("hc.a1", f"{API}/files/{ids[0]}/content", content=b"more")
    assert refused.status_code == 403
    assert refused.json()["code"] == "writes_frozen"
    assert drive.get("hc.a1", f"{API}/files/{ids[0]}/content").status_code == 200
    assert drive.put("hc.a2", f"{API}/files/{ids[0]}/content", content=b"x").status_code == 404
    with drive.instance.sessions() as session:
        actions = [
            (r.action, r.decision, r.reason)
            for r in session.scalars(select(AuditRecord).order_by(AuditRecord.id))
        ]
        accounts = service.frozen_accounts(session)
    assert ("guard.freeze", "allow", "score") in actions
    assert ("node.write", "deny", "writes_frozen") in actions
    (account,) = accounts
    assert account.username == "hc.a1"
    assert account.score >= scoring.FREEZE_SCORE
    assert {"entropy_jump"} <= {f for item in account.evidence for f in item["findings"]}  # type: ignore[attr-defined]

    with unit_of_work(drive.instance.sessions) as session:
        report = service.restore_since(
            session=session,
            context=ADMIN,
            blobs=drive.instance.blobs,
            username="hc.a1",
            since=utcnow() - dt.timedelta(minutes=5),
        )
    # Every version after "since" is the account's: the files were created then, nothing to undo.
    assert report.created_since == 12 and report.restored == 0
    assert frozen(drive, "hc.a1")


def test_restore_gives_back_the_content_before_the_time_as_new_versions(drive: Drive) -> None:
    catch_up(drive)
    ids = files(drive, "hc.a1", 12)
    originals = {n: drive.get("hc.a1", f"{API}/files/{n}/content").content for n in ids}
    catch_up(drive)
    since = utcnow()
    for node_id in ids:
        drive.put("hc.a1", f"{API}/files/{node_id}/content", content=os.urandom(3000))
    catch_up(drive)
    assert frozen(drive, "hc.a1")

    with unit_of_work(drive.instance.sessions) as session:
        report = service.restore_since(
            session=session,
            context=ADMIN,
            blobs=drive.instance.blobs,
            username="hc.a1",
            since=since,
        )
    assert (report.restored, report.unchanged, report.failed) == (12, 0, [])
    for node_id in ids:
        assert drive.get("hc.a1", f"{API}/files/{node_id}/content").content == originals[node_id]
        versions = drive.get("hc.a1", f"{API}/files/{node_id}/versions").json()
        assert len(versions) == 3  # the original, the encrypted one, the restored one
    with unit_of_work(drive.instance.sessions) as session:
        again = service.restore_since(
            session=session,
            context=ADMIN,
            blobs=drive.instance.blobs,
            username="hc.a1",
            since=since,
        )
        assert service.unfreeze(session=session, actor=None, context=ADMIN, username="hc.a1")
    assert (again.restored, again.unchanged) == (0, 12)
    assert not frozen(drive, "hc.a1")
    assert drive.put("hc.a1", f"{API}/files/{ids[0]}/content", content=b"ok").status_code == 200
    catch_up(drive)
    assert not frozen(drive, "hc.a1")  # the window started afresh


def zip_bytes(index: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.bin", os.urandom(3000))
        archive.writestr("index.txt", f"archive {index}")
    return out.getvalue()


def jpeg_bytes(index: int) -> bytes:
    out = io.BytesIO()
    noise = Image.frombytes("RGB", (40, 40), os.urandom(40 * 40 * 3))
    noise.save(out, format="JPEG", quality=95)
    return out.getvalue()


def test_random_looking_formats_in_bulk_never_freeze(drive: Drive) -> None:
    from tests.resilience.formats import encrypted_pdf, plain_pdf

    catch_up(drive)
    root = drive.root("hc.a1")
    makers = {"zip": zip_bytes, "jpg": jpeg_bytes, "pdf": plain_pdf}
    for round_ in range(2):  # new files, then new versions of them
        for i in range(10):
            for suffix, make in makers.items():
                drive.upload("hc.a1", root, f"f{i}.{suffix}", make(i + round_), overwrite=True)
            drive.upload(
                "hc.a1",
                root,
                f"p{i}.pdf",
                (encrypted_pdf if round_ else plain_pdf)(i),
                overwrite=True,
            )
    catch_up(drive)
    assert not frozen(drive, "hc.a1")


def test_a_batch_of_writes_is_scored_in_a_few_queries(drive: Drive) -> None:
    catch_up(drive)
    files(drive, "hc.a1", 30)
    with counting(drive.instance.engine) as tally:
        catch_up(drive)
    # Once four queries an event (name, version, the one before, canary): now one of each a
    # batch (the 60 events here are one batch).
    canaries = [s for s in tally.statements if "FROM guard_canary" in s]
    names = [s for s in tally.statements if s.startswith("SELECT node.id, node.name FROM node")]
    assert len(canaries) == 1 and len(names) == 1, (canaries, names)
    assert not frozen(drive, "hc.a1")


def test_a_canary_renamed_freezes_at_once(drive: Drive) -> None:
    catch_up(drive)
    canary = drive.upload("hc.a1", drive.root("hc.a1"), "accounts-2025.xlsx", b"PK\x03\x04x")["id"]
    with unit_of_work(drive.instance.sessions) as session:
        assert service.mark_canary(session=session, context=ADMIN, node_id=canary)
    response = drive.patch("hc.a1", f"{API}/nodes/{canary}", json={"name": "accounts.xlsx"})
    assert response.status_code == 200
    catch_up(drive)
    assert frozen(drive, "hc.a1")


def test_ransom_notes_and_extensions_add_up(drive: Drive) -> None:
    catch_up(drive)
    root = drive.root("hc.a1")
    for i in range(4):
        folder = drive.folder("hc.a1", root, f"case-{i}")["id"]
        drive.upload("hc.a1", folder, "HOW_TO_DECRYPT_FILES.txt", b"send bitcoin")
    catch_up(drive)
    assert frozen(drive, "hc.a1")  # four notes: 4 x 5 points
    assert not frozen(drive, "hc.a2")


def test_restore_also_undoes_the_accounts_renames_moves_and_deletions(drive: Drive) -> None:
    """Ransomware renames (``.locked``), moves and deletes besides overwriting: the restore puts
    names, folders and trashed files back from the audit log's ``from_`` values."""
    root = drive.root("hc.a1")
    catch_up(drive)
    ids = files(drive, "hc.a1", 6)
    folder = drive.folder("hc.a1", root, "Case diaries")["id"]
    inner = drive.upload("hc.a1", folder, "diary-1.txt", text(99))["id"]
    elsewhere = drive.folder("hc.a1", root, "Elsewhere")["id"]
    originals = {n: drive.get("hc.a1", f"{API}/files/{n}/content").content for n in ids}
    catch_up(drive)
    since = utcnow()

    def ok(response) -> None:  # type: ignore[no-untyped-def]
        assert response.status_code in (200, 204), response.text

    for node_id in ids[:3]:  # encrypted in place and renamed, twice for the first
        drive.put("hc.a1", f"{API}/files/{node_id}/content", content=os.urandom(3000))
        ok(drive.patch("hc.a1", f"{API}/nodes/{node_id}", json={"name": f"x{node_id}.locked"}))
    ok(drive.patch("hc.a1", f"{API}/nodes/{ids[0]}", json={"name": "again.locked"}))
    ok(drive.patch("hc.a1", f"{API}/nodes/{ids[3]}", json={"parent_id": elsewhere}))
    ok(drive.delete("hc.a1", f"{API}/nodes/{ids[4]}"))
    ok(drive.delete("hc.a1", f"{API}/nodes/{inner}"))  # a file, then the folder holding it
    ok(drive.delete("hc.a1", f"{API}/nodes/{folder}"))
    ok(drive.patch("hc.a1", f"{API}/nodes/{ids[5]}", json={"name": "taken.txt"}))
    drive.upload("hc.a1", root, "note-5.txt", b"a new file took the old name")

    with unit_of_work(drive.instance.sessions) as session:
        report = service.restore_since(
            session=session,
            context=ADMIN,
            blobs=drive.instance.blobs,
            username="hc.a1",
            since=since,
        )
    places = report.places
    assert (places.untrashed, places.renamed, places.moved) == (3, 3, 1)
    assert places.failed == [(ids[5], "name_taken")]  # reported, not forced
    assert report.restored == 3
    names = {n: drive.get("hc.a1", f"{API}/nodes/{n}").json() for n in [*ids[:5], inner]}
    for index, node_id in enumerate(ids[:5]):
        assert names[node_id]["name"] == f"note-{index}.txt"
        assert names[node_id]["parent_id"] == root
        assert drive.get("hc.a1", f"{API}/files/{node_id}/content").content == originals[node_id]
    assert names[inner]["parent_id"] == folder
    with drive.instance.sessions() as session:
        record = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "guard.restore")
        ).one()
    assert '"untrashed":3' in (record.detail or "")
