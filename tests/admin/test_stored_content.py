"""The database's references, as the store checks and GC see them, on SQLite and PostgreSQL:
versions (with space, path and version in every report), previews, page images and OCR'd PDFs,
and the chunks of uploads in progress."""

from __future__ import annotations

import datetime as dt
import os
import shutil

from sqlalchemy import func, select

from polaris.admin.stored_content import DatabaseReferences
from polaris.drive.models import FileVersion, Upload
from polaris.handlers import settle
from polaris.ingest.models import Rendition
from polaris.storage import LocalBackend, names
from polaris.storage.gc import Garbage, collect_garbage
from polaris.storage.refs import ContentRef
from polaris.storage.verify import verify_store
from tests.drive.conftest import CHUNK, Drive
from tests.drive.test_tus import create, patch
from tests.ingest.test_ocr import encoded, page


def references(drive: Drive) -> DatabaseReferences:
    return DatabaseReferences(drive.instance.read_sessions)


def blob_root(drive: Drive) -> os.PathLike[str]:
    backend = drive.instance.blobs.backend
    assert isinstance(backend, LocalBackend)
    return backend.root


def versions_of(drive: Drive, node_id: int) -> list[FileVersion]:
    with drive.instance.sessions() as session:
        query = select(FileVersion).where(FileVersion.node_id == node_id)
        return list(session.scalars(query.order_by(FileVersion.number)))


def test_previews_and_ocr_pdfs_are_referenced_not_unreferenced(drive: Drive) -> None:
    """The attack run's clean import reported 7 unreferenced chunks: its previews and OCR'd PDF."""
    picture, _, _ = page(3, lines=3)
    drive.upload("hc.a1", drive.root("hc.a1"), "FIR 12-2026.png", encoded(picture, "PNG"))
    drive.upload("hc.a1", drive.root("hc.a1"), "notes.txt", b"plain text")
    settle(drive.instance)
    with drive.instance.sessions() as session:
        kinds = set(session.scalars(select(Rendition.kind)))
    assert {"thumbnail", "ocr_pdf"} <= kinds

    report = verify_store(drive.instance.blobs, references=references(drive))
    assert report.ok, report.findings
    assert report.unreferenced_chunk_count == 0 and report.unreferenced_manifest_count == 0
    # The store alone (the old check) counts the renditions' chunks as unreferenced.
    assert verify_store(drive.instance.blobs).unreferenced_chunk_count > 0


def test_each_deletion_names_the_space_path_and_version(drive: Drive) -> None:
    folder = drive.folder("hc.a1", drive.root("hc.a1"), "मामले")
    node = drive.upload("hc.a1", folder["id"], "FIR 1.pdf", os.urandom(2 * CHUNK))
    drive.upload("hc.a1", folder["id"], "FIR 1.pdf", os.urandom(CHUNK), overwrite="true")
    space = drive.space("hc.a1")
    first, second = versions_of(drive, node["id"])
    root = blob_root(drive)
    (root / names.manifest_name(first.manifest_id)).unlink()  # type: ignore[operator]
    for chunk in ContentRef.from_dict(second.content).chunks:
        (root / names.chunk_name(chunk.chunk_id)).unlink()  # type: ignore[operator]

    report = verify_store(drive.instance.blobs, references=references(drive))
    assert not report.ok
    where = f'space "{space["name"]}" ({space["id"]}): /मामले/FIR 1.pdf'
    assert {(f.object_name, f.reason, f.breaks) for f in report.findings} == {
        (
            names.manifest_name(first.manifest_id),
            "missing",
            f"{where}, version 1 (node {node['id']})",
        ),
        *(
            (names.chunk_name(c.chunk_id), "missing", f"{where}, version 2 (node {node['id']})")
            for c in ContentRef.from_dict(second.content).chunks
        ),
    }
    assert report.broken_references == 2


def test_without_the_data_directory_every_file_is_broken(drive: Drive) -> None:
    for n in range(3):
        drive.upload("hc.a1", drive.root("hc.a1"), f"{n}.bin", os.urandom(100 + n))
    shutil.rmtree(blob_root(drive) / "data")  # type: ignore[operator]
    report = verify_store(drive.instance.blobs, references=references(drive))
    assert not report.ok
    assert report.broken_references == 3
    assert {f.breaks.split(": ")[1].split(",")[0] for f in report.findings if f.breaks} == {
        "/0.bin",
        "/1.bin",
        "/2.bin",
    }


def test_gc_keeps_uploads_in_progress_and_files_and_removes_only_old_garbage(
    drive: Drive,
) -> None:
    root = drive.root("hc.a1")
    node = drive.upload("hc.a1", root, "kept.bin", os.urandom(CHUNK + 1))
    url = create(drive, "hc.a1", 3 * CHUNK, filename="half.bin", parent_id=root)
    assert patch(drive, "hc.a1", url, 0, os.urandom(CHUNK)).status_code == 204
    with drive.instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Upload)) == 1
    garbage = drive.instance.blobs.put_bytes(b"left by a writer that died").chunks[0].chunk_id
    young = drive.instance.blobs.put_bytes(b"being uploaded right now").chunks[0].chunk_id
    root_dir = blob_root(drive)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).timestamp()
    for path in (root_dir / "data").rglob("*"):  # type: ignore[operator]
        if path.is_file() and young not in path.name:
            os.utime(path, (old, old))

    def run(dry_run: bool) -> list[Garbage]:
        seen: list[Garbage] = []
        report = collect_garbage(
            drive.instance.blobs,
            references=references(drive),
            grace=dt.timedelta(days=7),
            dry_run=dry_run,
            on_garbage=seen.append,
        )
        assert report.refused is None
        return seen

    assert [g.name for g in run(dry_run=True)] == [names.chunk_name(garbage)]
    assert [g.name for g in run(dry_run=False)] == [names.chunk_name(garbage)]
    assert run(dry_run=True) == []
    assert drive.get("hc.a1", f"/api/v1/files/{node['id']}/content").status_code == 200
    assert patch(drive, "hc.a1", url, CHUNK, os.urandom(2 * CHUNK)).status_code == 204
    report = verify_store(drive.instance.blobs, references=references(drive))
    assert report.ok and report.unreferenced_chunks == [young]
