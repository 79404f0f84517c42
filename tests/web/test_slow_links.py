"""Slow links: text the app writes is gzip-compressed, files people stored never are (their
bytes, length, ETag and ranges unchanged), and static files have versioned addresses cached for
a year."""

from __future__ import annotations

import gzip
import re

import pytest
from fastapi.testclient import TestClient

from polaris.instance import Instance
from polaris.web import assets
from polaris.web.compression import eligible
from polaris.web.pages import mask, unmask
from tests.web.test_api import sign_in as api_sign_in
from tests.web.test_drive_pages import put
from tests.web.test_pages import sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

GZIP = {"Accept-Encoding": "gzip"}


def raw_get(
    client: TestClient, url: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """A GET whose body is read as sent (not decoded by the client)."""
    with client.stream("GET", url, headers=headers) as response:
        body = b"".join(response.iter_raw())
        return response.status_code, dict(response.headers), body


def test_pages_are_compressed_for_clients_that_accept_gzip(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    home = client.get("/", follow_redirects=False).headers["location"]
    status, headers, body = raw_get(client, home, GZIP)
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    page = gzip.decompress(body).decode()
    assert "<html" in page and int(headers["content-length"]) == len(body)
    assert len(body) < len(page.encode()) / 2
    status, headers, body = raw_get(client, home, {"Accept-Encoding": "identity"})
    assert "content-encoding" not in headers and b"<html" in body
    _, refused, _ = raw_get(client, home, {"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused


def test_a_stored_text_file_downloads_byte_for_byte(seeded: Instance, client: TestClient) -> None:
    data = ("थाना कोतवाली, रोज़नामचा\n" * 400).encode()  # compressible, and text/plain
    node_id = put(seeded, "ct.one", "रोज़नामचा.txt", data)
    api_sign_in(client)
    url = f"/api/v1/files/{node_id}/content"
    _, plain, plain_body = raw_get(client, url, {"Accept-Encoding": "identity"})
    status, zipped, body = raw_get(client, url, GZIP)
    assert status == 200 and body == data == plain_body
    assert "content-encoding" not in zipped
    for name in ("content-length", "etag", "content-type", "content-disposition"):
        assert zipped[name] == plain[name], name
    # A range of it: the same bytes, 206, never compressed.
    status, ranged, part = raw_get(client, url, {**GZIP, "Range": "bytes=10-99"})
    assert status == 206 and part == data[10:100] and "content-encoding" not in ranged
    # The file's page shows it compressed; the download itself is untouched.
    sign_in(client, "ct.one")
    _, page, _ = raw_get(client, f"/drive/file/{node_id}", GZIP)
    assert page["content-encoding"] == "gzip"


def test_webdav_is_never_compressed(seeded: Instance, client: TestClient) -> None:
    put(seeded, "ct.one", "a.txt", b"a" * 5000)
    status, headers, _ = raw_get(client, "/dav/", GZIP)
    assert "content-encoding" not in headers, (status, headers)


def test_what_may_be_compressed() -> None:
    from starlette.datastructures import Headers

    def may(status: int, **headers: str) -> bool:
        return eligible(status, Headers({k.replace("_", "-"): v for k, v in headers.items()}))

    assert may(200, content_type="text/html; charset=utf-8")
    assert may(200, content_type="application/json")
    assert not may(200, content_type="text/plain")  # a stored file
    assert not may(200, content_type="application/pdf")
    assert not may(200, content_type="image/png")
    assert not may(206, content_type="text/html")
    assert not may(200, content_type="application/json", content_disposition="attachment")
    assert not may(200, content_type="text/html", content_encoding="br")
    assert not may(304, content_type="text/css")


def test_static_files_have_versioned_addresses_cached_for_a_year(client: TestClient) -> None:
    login = client.get("/login").text
    css = re.search(r'href="(/static/app\.[0-9a-f]{12}\.css)"', login)
    assert css, login
    assert css.group(1) == assets.url("app.css")
    status, headers, body = raw_get(client, css.group(1), GZIP)
    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == (assets.STATIC_DIR / "app.css").read_bytes()
    # The plain address and an outdated hash still work, revalidated each time.
    for url in ("/static/app.css", "/static/app.000000000000.css"):
        plain = client.get(url)
        assert plain.status_code == 200 and plain.headers["cache-control"] == "no-cache", url
        assert plain.content == (assets.STATIC_DIR / "app.css").read_bytes()
    # Scripts too, and nothing outside the static directory.
    assert client.get(assets.url("js/frame.js")).headers["cache-control"].endswith("immutable")
    assert client.get("/static/missing.000000000000.css").status_code == 404
    assert client.get("/static/..%2Fapp.py").status_code == 404


def test_csrf_tokens_are_masked_afresh_for_every_page(client: TestClient) -> None:
    token = "a" * 64
    masked = {mask(token) for _ in range(5)}
    assert len(masked) == 5 and all(unmask(m) == token for m in masked)
    assert unmask("not hex at all") == "not hex at all"
    first = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    second = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert first and second and first.group(1) != second.group(1)
    assert unmask(first.group(1)) == unmask(second.group(1))


def test_the_compressed_answer_keeps_its_vary_and_gives_the_packed_length() -> None:
    """The compressor edits the raw header pairs: every earlier ``Vary`` value kept with
    ``Accept-Encoding`` in one header, the length of what is sent, the rest as it was."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from polaris.web.compression import CompressionMiddleware

    big = {"पंक्ति": ["प्राथमिकी संख्या 0276/2026"] * 200}

    async def large(request: object) -> JSONResponse:
        return JSONResponse(big, headers={"Vary": "Cookie", "ETag": '"e1"'})

    async def small(request: object) -> JSONResponse:
        return JSONResponse({"ok": True}, headers={"Vary": "Cookie"})

    app = Starlette(routes=[Route("/large", large), Route("/small", small)])
    app.add_middleware(CompressionMiddleware)
    with TestClient(app) as plain:
        answer = plain.get("/large", headers={"Accept-Encoding": "gzip"})
        raw = answer.headers
        assert raw["content-encoding"] == "gzip"
        assert raw.get_list("vary") == ["Cookie, Accept-Encoding"]
        assert raw["etag"] == '"e1"'
        assert len(raw.get_list("content-length")) == 1
        assert answer.json() == big  # httpx unpacked it
        sent = int(raw["content-length"])
        assert sent == answer.num_bytes_downloaded < len(answer.content)
        tiny = plain.get("/small", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in tiny.headers
        assert tiny.headers.get_list("vary") == ["Cookie, Accept-Encoding"]
        assert tiny.json() == {"ok": True}


def test_a_compressor_is_made_only_for_an_answer_that_is_packed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Making zlib's compressor costs about 50 µs: an answer too small, or not text, never pays
    it; a packed one makes one."""
    import zlib

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from polaris.web import compression

    made: list[int] = []
    real = zlib.compressobj

    def counting(level: int, method: int, wbits: int) -> zlib._Compress:
        made.append(1)
        return real(level, method, wbits)

    monkeypatch.setattr(zlib, "compressobj", counting)

    async def large(request: object) -> JSONResponse:
        return JSONResponse({"पंक्ति": ["प्राथमिकी संख्या 0276/2026"] * 200})

    async def small(request: object) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def image(request: object) -> Response:
        return Response(b"\x89PNG" * 1000, media_type="image/png")

    app = Starlette(routes=[Route("/large", large), Route("/small", small), Route("/png", image)])
    app.add_middleware(compression.CompressionMiddleware)
    with TestClient(app) as plain:
        for path in ("/small", "/png"):
            assert (
                "content-encoding"
                not in plain.get(path, headers={"Accept-Encoding": "gzip"}).headers
            )
        assert made == []
        packed = plain.get("/large", headers={"Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip" and made == [1]
