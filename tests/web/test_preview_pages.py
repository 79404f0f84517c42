"""A file's pages over HTTP (``polaris.ingest.views``): previews and thumbnails drawn in the
background, as visible as the file, the text shown escaped, the extracted text, and the listing's
thumbnails that ingest adds to drive's folder page (``polaris.web.listing``)."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from polaris import jobs
from polaris.drive.models import Node
from polaris.handlers import settle
from polaris.ingest import office
from polaris.instance import Instance
from polaris.web import assets
from tests.factories import make_user
from tests.ingest.test_office import a_docx
from tests.web.test_drive_pages import audit_actions, png, put
from tests.web.test_pages import sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def test_a_picture_gets_a_thumbnail_and_page_preview_drawn_in_the_background(
    seeded: Instance, client: TestClient
) -> None:
    file_id = put(seeded, "ct.one", "scene photo.png", png())
    sign_in(client, "ct.one")

    waiting = client.get(f"/drive/file/{file_id}")
    assert waiting.status_code == 200
    assert "The preview is being prepared." in waiting.text
    assert f'<script type="module" src="{assets.url("js/preview.js")}">' in waiting.text
    assert client.get(f"/drive/file/{file_id}/preview-status").json() == {"state": "pending"}
    listing = client.get("/", follow_redirects=True)
    assert "/thumbnail/" not in listing.text  # not drawn yet: an icon instead

    assert settle(seeded)[1] >= 1  # the previews (and the search index)

    assert client.get(f"/drive/file/{file_id}/preview-status").json() == {"state": "ready"}
    ready = client.get(f"/drive/file/{file_id}")
    page_urls = re.findall(r'src="(/drive/file/\d+/page/\d+/\d+)"', ready.text)
    assert len(page_urls) == 1
    assert 'alt="Page 1 of scene photo.png"' in ready.text
    image = client.get(page_urls[0])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert Image.open(io.BytesIO(image.content)).size == (640, 480)

    listing = client.get("/", follow_redirects=True)
    thumbs = re.findall(r'src="(/drive/file/\d+/thumbnail/\d+)"', listing.text)
    assert len(thumbs) == 1
    thumb = client.get(thumbs[0])
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 256
    assert audit_actions(seeded).count("file.preview") == 2


def test_previews_follow_the_files_permissions(seeded: Instance, client: TestClient) -> None:
    file_id = put(seeded, "ct.one", "private.png", png())
    settle(seeded)
    sign_in(client, "ct.one")
    ready = client.get(f"/drive/file/{file_id}")
    page_url = re.findall(r'src="(/drive/file/\d+/page/\d+/\d+)"', ready.text)[0]
    thumb_url = page_url.replace("/page/", "/thumbnail/").rsplit("/", 1)[0]
    client.cookies.clear()

    session: Session = seeded.sessions()
    make_user(session, "ct.other", unit="PS-B1")
    session.commit()
    session.close()
    sign_in(client, "ct.other")
    for url in (f"/drive/file/{file_id}", page_url, thumb_url):
        assert client.get(url).status_code == 404, url


def test_a_corrupt_pdf_says_it_cannot_be_previewed(seeded: Instance, client: TestClient) -> None:
    file_id = put(seeded, "ct.one", "FIR 12-2026.pdf", b"%PDF-1.7 truncated nonsense")
    settle(seeded)
    session: Session = seeded.sessions()
    version_id = session.get(Node, file_id).current_version_id  # type: ignore[union-attr]
    found = jobs.jobs_for_subject(session, "file_version", version_id)  # type: ignore[arg-type]
    (job,) = [j for j in found if j.kind == "ingest.previews"]
    session.close()
    assert job.status == "failed" and "the PDF cannot be read" in (job.error or "")
    sign_in(client, "ct.one")
    page = client.get(f"/drive/file/{file_id}")
    assert page.status_code == 200
    assert "This file could not be previewed. Download it to open it." in page.text


def test_plain_text_is_shown_escaped_in_the_page(seeded: Instance, client: TestClient) -> None:
    file_id = put(seeded, "ct.one", "note.txt", "<script>alert(1)</script> चोरी".encode())
    sign_in(client, "ct.one")
    page = client.get(f"/drive/file/{file_id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; चोरी" in page.text
    assert "<script>alert" not in page.text
    assert "file.preview" in audit_actions(seeded)


def test_the_text_page_shows_what_was_read_and_how(seeded: Instance, client: TestClient) -> None:
    file_id = put(seeded, "ct.one", "रोज़नामचा.txt", "थाना कोतवाली: चोरी की सूचना".encode())
    sign_in(client, "ct.one")
    waiting = client.get(f"/drive/file/{file_id}/text")
    assert waiting.status_code == 200
    assert "Waiting to be read" in waiting.text
    settle(seeded)
    ready = client.get(f"/drive/file/{file_id}/text")
    assert "Text extracted" in ready.text and "The file&#39;s own text" in ready.text
    assert "थाना कोतवाली: चोरी की सूचना" in ready.text
    assert "Download the searchable PDF" not in ready.text  # OCR only makes one for scans
    assert "file.preview" in audit_actions(seeded)


def test_the_file_page_shows_a_legal_hold_and_its_reason_in_english_and_hindi(
    seeded: Instance, client: TestClient
) -> None:
    from polaris.audit.context import AuditContext
    from polaris.db.uow import unit_of_work
    from polaris.drive import holds

    file_id = put(seeded, "ct.one", "fir.txt", b"first information report")
    sign_in(client, "ct.one")
    assert "Legal hold" not in client.get(f"/drive/file/{file_id}").text
    with unit_of_work(seeded.sessions) as session:
        parent = session.get(Node, file_id)
        assert parent is not None and parent.parent_id is not None
        holds.place_hold(  # on the folder above: the file is held with it
            session=session,
            actor=None,
            context=AuditContext.system("test"),
            node_id=parent.parent_id,
            reason="High Court order W.P. 4471/2026",
        )
    english = client.get(f"/drive/file/{file_id}").text
    assert "Legal hold" in english
    assert "Reason: High Court order W.P. 4471/2026" in english
    hindi = client.get(f"/drive/file/{file_id}", headers={"Accept-Language": "hi"}).text
    assert "कानूनी रोक" in hindi
    assert "कारण: High Court order W.P. 4471/2026" in hindi


@pytest.mark.slow
@pytest.mark.skipif(not office.available(), reason="LibreOffice is not installed")
def test_a_docx_gets_page_previews_and_a_bad_one_says_so_on_its_page(
    seeded: Instance, client: TestClient
) -> None:
    good = put(seeded, "ct.one", "FIR 45-2026.docx", a_docx())
    bad = put(seeded, "ct.one", "broken.xlsx", b"PK\x03\x04 nonsense")
    settle(seeded)
    sign_in(client, "ct.one")
    ready = client.get(f"/drive/file/{good}")
    assert ready.status_code == 200
    assert re.findall(r'src="(/drive/file/\d+/page/\d+/\d+)"', ready.text)

    session: Session = seeded.sessions()
    version_id = session.get(Node, bad).current_version_id  # type: ignore[union-attr]
    found = jobs.jobs_for_subject(session, "file_version", version_id)  # type: ignore[arg-type]
    (job,) = [j for j in found if j.kind == "ingest.previews"]
    session.close()
    assert job.status == "failed" and "damaged ZIP archive" in (job.error or "")
    page = client.get(f"/drive/file/{bad}")
    assert page.status_code == 200
    assert "This file could not be previewed. Download it to open it." in page.text
