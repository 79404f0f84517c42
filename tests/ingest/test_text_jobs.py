"""The text job over a real instance (database, encrypted blob store): an upload queues it, it
stores the text and the OCR PDF beside the untouched original, it runs once per version, and a
file it cannot read fails with the reason, recorded for the version."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from polaris import events, jobs
from polaris.drive import content, spaces, trash
from polaris.drive.models import FileVersion
from polaris.errors import NotFound
from polaris.handlers import load_consumers, settle
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from polaris.ingest import text_service
from polaris.ingest.text_models import DocumentText
from polaris.instance import Instance
from polaris.jobs.models import Job
from polaris.storage.refs import ContentRef
from tests.drive.conftest import make_instance
from tests.factories import SYSTEM, build_tree, make_user
from tests.ingest.test_extract import bomb
from tests.ingest.test_ocr import encoded, hindi_recall, missing, page

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

HINDI = "थाना प्रभारी ने विवेचना अधिकारी को प्रकरण की जांच सौंपी"


@pytest.fixture
def instance(engine: Engine, tmp_path: Path) -> Iterator[Instance]:
    load_consumers()  # the tests drain the stream themselves: every consumer must be there
    connection = engine.connect()
    outer = connection.begin()
    try:
        instance = make_instance(connection, tmp_path)
        session = instance.sessions()
        build_tree(session)
        make_user(session, "si.kotwali", role="sub_inspector")
        session.commit()
        session.close()
        yield instance
    finally:
        outer.rollback()
        connection.close()


def upload(instance: Instance, name: str, data: bytes) -> int:
    """Store a file in the officer's own space, as the upload page does; its version id."""
    session: Session = instance.sessions()
    user = session.scalars(select(User).where(User.username == "si.kotwali")).one()
    actor = actor_for(session=session, user=user, auth_factors="password")
    root = spaces.ensure_user_space(session, user, spaces.SpaceDefaults()).root_id
    _, version, _ = content.commit_upload(
        session=session,
        actor=actor,
        context=SYSTEM,
        blobs=instance.blobs,
        content=data,
        parent_id=root,
        name=name,
    )
    session.commit()
    session.close()
    return version.id


def text_jobs_of(instance: Instance, version_id: int) -> list[Job]:
    session = instance.sessions()
    try:
        return [
            job
            for job in jobs.jobs_for_subject(session, "file_version", version_id)
            if job.kind == text_service.TEXT_JOB
        ]
    finally:
        session.close()


def status(instance: Instance, version_id: int) -> text_service.TextStatus:
    session = instance.sessions()
    try:
        version = session.get(FileVersion, version_id)
        assert version is not None
        return text_service.text_status(
            session, version_id, content_type=version.content_type, size=version.size
        )
    finally:
        session.close()


def word_file(*paragraphs: str) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_an_uploaded_document_has_its_text_extracted_once(instance: Instance) -> None:
    version_id = upload(instance, "रोजनामचा.docx", word_file(HINDI, "FIR 0123/2026"))
    assert text_jobs_of(instance, version_id) == []  # asked for by ingest's consumer, next
    assert status(instance, version_id) == ("pending", None, None)
    events.drain(instance.sessions)
    assert [job.status for job in text_jobs_of(instance, version_id)] == ["queued"]
    assert status(instance, version_id) == ("pending", None, None)

    settle(instance)

    state, stored, error = status(instance, version_id)
    assert (state, error) == ("ready", None)
    assert stored is not None
    assert (stored.method, stored.text, stored.pages) == ("text", f"{HINDI}\nFIR 0123/2026", None)
    [job] = text_jobs_of(instance, version_id)
    assert job.status == "done" and job.result == {
        "method": "text",
        "pages": None,
        "characters": len(stored.text),
        "truncated": False,
    }
    session = instance.sessions()
    with pytest.raises(NotFound):
        text_service.get_ocr_pdf(session, version_id=version_id)  # nothing was OCRed
    assert text_service.texts_of(session, [version_id, 10**9]) == {version_id: stored.text}
    session.close()

    # A second job for the same version (a re-run, a retry after a crash) finds the work done.
    session = instance.sessions()
    again = jobs.enqueue(
        session, kind=text_service.TEXT_JOB, payload={"version_id": version_id}, key="again"
    )
    session.commit()
    session.close()
    settle(instance)
    session = instance.sessions()
    assert jobs.get_job(session, again.id).result == {"skipped": "already extracted"}
    rows = session.scalars(select(DocumentText).where(DocumentText.version_id == version_id))
    assert len(rows.all()) == 1
    session.close()


def test_a_scan_gets_its_ocr_text_and_a_searchable_pdf_beside_the_original(
    instance: Instance,
) -> None:
    picture, truth, exact = page(11, lines=8)
    scan = encoded(picture, "PNG", dpi=(300, 300))
    version_id = upload(instance, "FIR 0123-2026.png", scan)

    settle(instance)  # the previews and the text

    session = instance.sessions()
    stored = text_service.get_text(session, version_id=version_id)
    assert (stored.method, stored.pages, stored.language) == ("ocr", 1, "eng+hin")
    assert hindi_recall(truth, stored.text) >= 0.9 and missing(exact, stored.text) == []
    rendition = text_service.get_ocr_pdf(session, version_id=version_id)
    assert (rendition.media_type, rendition.page) == ("application/pdf", 0)
    searchable = instance.blobs.read_bytes(ContentRef.from_dict(rendition.content))
    assert rendition.size == len(searchable)
    document = pdfium.PdfDocument(searchable)
    assert len(document) == 1
    assert missing(exact, document[0].get_textpage().get_text_range()) == []
    document.close()
    # The original is kept as it was uploaded.
    version = session.get(FileVersion, version_id)
    assert version is not None
    original = instance.blobs.read_bytes(ContentRef.from_dict(version.content))
    assert hashlib.sha256(original).hexdigest() == hashlib.sha256(scan).hexdigest()
    session.close()


def test_a_file_that_cannot_be_read_fails_with_the_reason_recorded(instance: Instance) -> None:
    version_id = upload(instance, "charge-sheet.pdf", b"%PDF-1.7\nnot really a PDF at all")

    settle(instance)

    [job] = text_jobs_of(instance, version_id)
    assert job.status == "failed" and job.attempts == 1  # no retry could mend it
    assert job.error is not None and job.error.startswith("the PDF cannot be read")
    state, stored, error = status(instance, version_id)
    assert (state, error) == ("failed", job.error)
    assert stored is not None and (stored.method, stored.text) == ("none", "")
    session = instance.sessions()
    assert text_service.texts_of(session, [version_id]) == {}
    session.close()


def test_a_decompression_bomb_fails_its_job_for_good_with_the_reason(
    instance: Instance,
) -> None:
    """A Word file of some forty kilobytes whose text part unpacks to 40 MB."""
    version_id = upload(instance, "report.docx", bomb("docx", 40 * 1024 * 1024))
    settle(instance)
    [job] = text_jobs_of(instance, version_id)
    assert job.status == "failed" and job.attempts == 1
    assert job.error is not None and "ZIP bomb" in job.error
    assert status(instance, version_id)[0] == "failed"


def test_the_reader_memory_limit_comes_from_the_settings(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(instance.settings.ocr, "extract_memory_mb", 384)
    version_id = upload(instance, "many.docx", bomb("docx", 96 * 1024 * 1024, numbered=True))
    settle(instance)
    [job] = text_jobs_of(instance, version_id)
    assert job.status == "failed"
    assert job.error is not None and "more than 384 MiB of memory" in job.error


def test_a_file_without_text_gets_no_job(instance: Instance) -> None:
    version_id = upload(instance, "photos.zip", b"PK\x05\x06" + bytes(18))
    settle(instance)
    assert text_jobs_of(instance, version_id) == []
    assert status(instance, version_id) == ("none", None, None)


def test_purging_a_file_takes_its_text_and_ocr_pdf_with_it(instance: Instance) -> None:
    version_id = upload(instance, "note.txt", "दैनिक डायरी".encode())
    settle(instance)
    session = instance.sessions()
    assert text_service.has_text(session, version_id)
    node_id = session.get(FileVersion, version_id).node_id  # type: ignore[union-attr]
    officer = session.scalars(select(User).where(User.username == "si.kotwali")).one()
    admin = make_user(session, "admin.phq", unit="PHQ", role="admin")
    for user, step in ((officer, trash.trash_node), (admin, trash.purge_node)):
        actor = actor_for(session=session, user=user, auth_factors="password")
        step(session=session, actor=actor, context=SYSTEM, node_id=node_id)
    session.commit()
    assert not text_service.has_text(session, version_id)
    with pytest.raises(NotFound):
        text_service.get_text(session, version_id=version_id)
    session.close()
