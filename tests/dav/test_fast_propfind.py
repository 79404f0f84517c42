"""The PROPFIND written from rows (``dav.fast_propfind``) answers what WsgiDAV's own handler
answers: the same status, content type and document, parsed (namespace prefixes and the order of
propstats and of properties inside one are free in RFC 4918; the order of responses is the
same), for each kind of request, on SQLite and PostgreSQL.

The folder holds files and subfolders, a file locked, dead properties (on the folder and on a
child), a file with checksums (written over WebDAV), names in Hindi and with ``&``, ``<``, ``>``
and quotes, and a file above the caller's clearance (absent from both answers)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from lxml import etree  # type: ignore[import-untyped]
from sqlalchemy import update

from polaris.dav import fast_propfind
from polaris.drive import service
from polaris.drive.models import Node
from tests.conftest import PG_SCHEMA
from tests.dav.conftest import acting, upload
from tests.dav.in_process import USER, InProcess, in_process
from tests.factories import SYSTEM

BASE = "/remote.php/dav/files/hc.a1/hc.a1"
NAMES = ("दस्तावेज़ & <रिपोर्ट>.txt", "a \"quoted\" 'name'.txt", "plain.txt", "x&y<z>.pdf")
HIDDEN = "above-clearance.txt"
NS = 'xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns"'
Z = 'xmlns:z="urn:example:z"'


def _prop(*names: str, extra: str = "") -> bytes:
    inner = "".join(f"<{name}/>" for name in names)
    return (
        f'<?xml version="1.0"?><d:propfind {NS} {extra}><d:prop>{inner}</d:prop></d:propfind>'
    ).encode()


BODIES = {
    "empty": b"",
    "allprop": f'<?xml version="1.0"?><d:propfind {NS}><d:allprop/></d:propfind>'.encode(),
    "propname": f'<?xml version="1.0"?><d:propfind {NS}><d:propname/></d:propfind>'.encode(),
    "dav": _prop(
        "d:resourcetype",
        "d:creationdate",
        "d:getcontentlength",
        "d:getcontenttype",
        "d:getlastmodified",
        "d:getetag",
        "d:displayname",
        "d:lockdiscovery",
        "d:supportedlock",
        "d:quota-used-bytes",
        "d:quota-available-bytes",
        "d:source",
    ),
    "nextcloud": _prop(
        "d:resourcetype",
        "d:getlastmodified",
        "d:getcontentlength",
        "d:getetag",
        "oc:id",
        "oc:fileid",
        "oc:permissions",
        "oc:size",
        "oc:checksums",
        "nc:has-preview",
        "oc:share-types",
    ),
    "dead": _prop("z:colour", "z:missing", "d:getetag", extra=Z),
    "unknown": _prop("z:nothing", "oc:nothing", extra=Z),
}


@dataclass
class Compared:
    app: InProcess

    def propfind(self, path: str, body: bytes, depth: str) -> tuple[int, str, bytes]:
        answer = self.app.request("PROPFIND", quote(path), body, Depth=depth)
        return answer.status_code, answer.headers.get("content-type", ""), answer.content

    def send(self, method: str, path: str, body: bytes = b"", **headers: str) -> int:
        return self.app.request(method, quote(path), body, **headers).status_code


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def compared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Compared]:
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"fast-propfind-{backend}")
    with in_process(backend, directory, PG_SCHEMA + "_fastpropfind", "c") as app:
        with acting(app.instance, USER) as (session, actor):
            for name in ("sub & <one>", "उप-फ़ोल्डर"):
                service.create_folder(
                    session=session, actor=actor, context=SYSTEM, parent_id=app.folder_id, name=name
                )
            for index, name in enumerate((*NAMES, HIDDEN)):
                data = f"content {index}".encode()
                upload(app.instance, session, actor, app.folder_id, name, data)
            session.execute(
                update(Node).where(Node.name == HIDDEN).values(classification=2)
            )  # Confidential: above hc.a1's clearance
        made = Compared(app)
        assert made.send("PUT", f"{BASE}/c/sums.txt", b"checked") in (201, 204)
        patch = (
            f'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" {Z}><d:set><d:prop>'
            "<z:colour>red &amp; <z:b>blue</z:b></z:colour></d:prop></d:set>"
            "</d:propertyupdate>"
        ).encode()
        assert made.send("PROPPATCH", f"{BASE}/c/plain.txt", patch) == 207
        assert made.send("PROPPATCH", f"{BASE}/c", patch) == 207
        lock = (
            b'<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
            b"</d:lockscope><d:locktype><d:write/></d:locktype>"
            b"<d:owner><d:href>mailto:hc.a1@example.org</d:href></d:owner></d:lockinfo>"
        )
        assert made.send("LOCK", f"{BASE}/c/{NAMES[0]}", lock, Timeout="Second-3600") == 200
        yield made


def _shape(element: Any) -> Any:
    """An element without its prefixes: tag, text (a lock's remaining seconds blanked),
    children (in order, except the properties in a ``prop`` and the ``propstat``s, sorted)."""
    text = (element.text or "").strip()
    if element.tag == "{DAV:}timeout":
        text = re.sub(r"\d+", "N", text)
    children = [_shape(child) for child in element]
    if element.tag in ("{DAV:}prop", "{DAV:}response"):
        children.sort(key=repr)
    return (element.tag, text, tuple(children))


def _parsed(body: bytes) -> list[Any]:
    root = etree.fromstring(body)
    assert root.tag == "{DAV:}multistatus"
    return [_shape(response) for response in root]


def _both(compared: Compared, path: str, body: bytes, depth: str) -> tuple[Any, Any]:
    fast = compared.propfind(path, body, depth)
    fast_propfind.ENABLED = False
    try:
        slow = compared.propfind(path, body, depth)
    finally:
        fast_propfind.ENABLED = True
    return fast, slow


@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.parametrize(
    "path, depth",
    [
        (f"{BASE}/c", "1"),
        (f"{BASE}/c/", "0"),
        (BASE, "1"),
        (f"{BASE}/c/{NAMES[0]}", "0"),
        (f"{BASE}/c/sums.txt", "1"),
        (f"{BASE}/c/plain.txt", "0"),
    ],
)
def test_the_fast_answer_is_wsgidavs(compared: Compared, kind: str, path: str, depth: str) -> None:
    fast, slow = _both(compared, path, BODIES[kind], depth)
    assert fast[0] == slow[0] == 207
    assert fast[1] == slow[1]
    assert _parsed(fast[2]) == _parsed(slow[2])


def test_the_listing_holds_what_the_folder_holds(compared: Compared) -> None:
    status, _, body = compared.propfind(f"{BASE}/c", BODIES["allprop"], "1")
    assert status == 207
    text = body.decode()
    hrefs = re.findall(r"<D:href>([^<]*)</D:href>", text)
    assert f"{BASE}/c/" in hrefs
    assert quote(f"{BASE}/c/{NAMES[0]}", safe="/!*'(),$-_|.") in hrefs
    assert quote(f"{BASE}/c/sub & <one>/", safe="/!*'(),$-_|.") in hrefs
    assert not any(HIDDEN in href for href in hrefs)
    assert "&lt;रिपोर्ट&gt;" in text  # the display name, escaped
    assert "activelock" in text  # the locked file's lockdiscovery


@pytest.mark.parametrize(
    "path, depth, status",
    [
        (f"{BASE}/c/{HIDDEN}", "0", 404),
        (f"{BASE}/c/no-such-file.txt", "0", 404),
        (f"{BASE}/c", "infinity", 403),
        (f"{BASE}/c", "2", 400),
    ],
)
def test_what_it_refuses_it_refuses_as_wsgidav(
    compared: Compared, path: str, depth: str, status: int
) -> None:
    fast, slow = _both(compared, path, BODIES["allprop"], depth)
    assert fast == slow
    assert fast[0] == status


def test_a_bad_body_is_wsgidavs_to_refuse(compared: Compared) -> None:
    fast, slow = _both(compared, f"{BASE}/c", b"<not xml", "1")
    assert fast == slow
    assert fast[0] == 400
