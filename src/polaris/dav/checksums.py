"""Checksums of WebDAV uploads.

``OC-Checksum``: the checksum a Nextcloud client (or rclone) sends with an upload, checked
against what arrived before anything is recorded. A mismatch is a ``400`` naming both values,
and the upload is not recorded (its chunks, stored already, are left to the garbage collector).

The header is ``TYPE:HEX`` (``SHA1:3f7…``); several may be given, separated by spaces, of which
the first of a known type is checked. Types: SHA1, MD5, SHA256 (hashlib) and Adler32 (zlib). An
unknown type is not checked (the Nextcloud server does the same), a malformed value is a 400.

``oc:checksums``: every upload's SHA-1 and MD5 are computed as it arrives and kept with its
version (``dav_checksum``), and a PROPFIND answers them (``SHA1:… MD5:…``): what rclone's
``--checksum`` and the Nextcloud clients compare.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session
from wsgidav.dav_error import DAVError

from polaris.dav.models import DavChecksum

#: What the server advertises in its capabilities (``dav.ocs``), preferred first.
SUPPORTED = ("SHA1", "MD5", "SHA256", "Adler32")


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


class _Adler32:
    def __init__(self) -> None:
        self._value = 1

    def update(self, data: bytes | memoryview, /) -> None:
        self._value = zlib.adler32(data, self._value)

    def hexdigest(self) -> str:
        return f"{self._value:08x}"


def _hasher(kind: str) -> _Hasher:
    if kind == "ADLER32":
        return _Adler32()
    return hashlib.new(kind.lower(), usedforsecurity=False)


@dataclass
class Expected:
    """A checksum to meet: its type as sent, the expected hex value, and the running hash."""

    kind: str
    value: str
    hasher: _Hasher = field(repr=False)

    def update(self, data: bytes | memoryview) -> None:
        self.hasher.update(data)

    def check(self) -> None:
        got = self.hasher.hexdigest()
        if got != self.value:
            raise DAVError(
                400,
                context_info=(
                    f"checksum_mismatch: the content's {self.kind} is {got}, "
                    f"the {self.kind} sent in OC-Checksum is {self.value}; nothing was stored"
                ),
            )


def expected(environ: dict[str, Any]) -> Expected | None:
    """The checksum a request's ``OC-Checksum`` asks for, None without one of a known type."""
    header = str(environ.get("HTTP_OC_CHECKSUM", "")).strip()
    if not header:
        return None
    for item in header.split():
        kind, colon, value = item.partition(":")
        if not colon or not value:
            raise DAVError(400, context_info="OC-Checksum is TYPE:HEX, such as SHA1:3f7a…")
        known = {name.upper(): name for name in SUPPORTED}.get(kind.upper())
        if known is None:
            continue
        value = value.lower()
        if any(c not in "0123456789abcdef" for c in value):
            raise DAVError(400, context_info=f"OC-Checksum: {kind} is not a hex value")
        return Expected(known, value, _hasher(known.upper()))
    return None


class Digests:
    """The SHA-1 and MD5 of an upload, kept running as its bytes pass."""

    def __init__(self) -> None:
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.md5 = hashlib.md5(usedforsecurity=False)

    def update(self, data: bytes | memoryview) -> None:
        self.sha1.update(data)
        self.md5.update(data)

    def record(self, session: Session, version_id: int) -> None:
        """Keep them with the version made (in the transaction that made it)."""
        session.merge(
            DavChecksum(version_id=version_id, sha1=self.sha1.hexdigest(), md5=self.md5.hexdigest())
        )


def copy(session: Session, source_version_id: int | None, target_version_id: int | None) -> None:
    """A copy's version has its source's checksums (the same bytes)."""
    if source_version_id is None or target_version_id is None:
        return
    found = session.get(DavChecksum, source_version_id)
    if found is not None:
        session.merge(DavChecksum(version_id=target_version_id, sha1=found.sha1, md5=found.md5))


def of_versions(session: Session, version_ids: list[int]) -> dict[int, str]:
    """``SHA1:… MD5:…`` by version id, for the versions that have them."""
    found: dict[int, str] = {}
    for start in range(0, len(version_ids), 500):
        rows = session.scalars(
            select(DavChecksum).where(DavChecksum.version_id.in_(version_ids[start : start + 500]))
        )
        for row in rows:
            found[row.version_id] = f"SHA1:{row.sha1} MD5:{row.md5}"
    return found
