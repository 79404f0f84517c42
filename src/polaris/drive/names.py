"""Node names (DESIGN §6): NFC, 1–255 bytes of UTF-8, no ``/``, no control characters.

Bidirectional overrides are refused as well: U+202E turns ``report‮fdp.exe`` into what looks like
``reportexe.pdf``, a classic way to disguise a program. Zero-width joiners (U+200C, U+200D) stay
allowed: Devanagari and other Indian scripts need them.
"""

from __future__ import annotations

import unicodedata

from polaris.errors import ValidationFailed

MAX_NAME_BYTES = 255
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def normalise_name(name: str) -> str:
    """The stored form of ``name`` (NFC), or ValidationFailed naming what is wrong with it."""
    name = unicodedata.normalize("NFC", name)
    if not name or not name.strip():
        raise ValidationFailed("a name cannot be empty", code="name_empty")
    if name in {".", ".."}:
        raise ValidationFailed("'.' and '..' are not names", code="name_invalid")
    if "/" in name or "\\" in name:
        raise ValidationFailed("a name cannot contain '/' or '\\'", code="name_invalid")
    for char in name:
        if unicodedata.category(char) in {"Cc", "Cs"} or char in _BIDI_CONTROLS:
            raise ValidationFailed(
                f"a name cannot contain the control character U+{ord(char):04X}",
                code="name_invalid",
            )
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValidationFailed(
            f"a name is at most {MAX_NAME_BYTES} bytes of UTF-8", code="name_too_long"
        )
    return name


def sort_key(name: str) -> str:
    return name.casefold()
