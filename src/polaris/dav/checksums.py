"""``OC-Checksum``: the checksum a Nextcloud client (or rclone) sends with an upload, checked
against what arrived before anything is recorded. A mismatch is a ``400`` naming both values,
and the upload is not recorded (its chunks, stored already, are left to the garbage collector).

The header is ``TYPE:HEX`` (``SHA1:3f7…``); several may be given, separated by spaces, of which
the first of a known type is checked. Types: SHA1, MD5, SHA256 (hashlib) and Adler32 (zlib). An
unknown type is not checked (the Nextcloud server does the same), a malformed value is a 400.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from wsgidav.dav_error import DAVError

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
