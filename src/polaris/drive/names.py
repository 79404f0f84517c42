"""Node names (DESIGN §6): NFC, 1–255 bytes of UTF-8, no ``/``, no invisible control characters.

Refused by Unicode general category, so the rule covers characters nobody listed by hand:

- ``Cc`` controls (NUL, newline, ESC, DEL, U+0085...) and ``Cs`` lone surrogates;
- ``Zl`` and ``Zp``, the line and paragraph separators U+2028 and U+2029: a name is one line;
- ``Cf`` format characters. They are invisible, so two names that look alike can differ (U+FEFF,
  the zero-width space U+200B, the soft hyphen U+00AD), or they reorder what is shown: a
  bidirectional override (U+202E) between ``report`` and ``fdp.exe`` shows ``reportexe.pdf``,
  a classic way to disguise a program. The one exception is the pair of joiners U+200C and
  U+200D: Devanagari and other Indian scripts need them to choose the form of a conjunct
  (क, virama, U+200D, ष), and emoji sequences use U+200D. Tag characters (also ``Cf``) are
  refused with the rest; the cost is the few subdivision flags built from them.

Also refused: the 66 *noncharacters* (U+FDD0 to U+FDEF and the last two code points of every
plane, U+FFFE, U+FFFF, U+1FFFE...), which Unicode keeps for a program's internal use and never
assigns. XML cannot hold U+FFFE or U+FFFF at all, so a name with one could not be listed over
WebDAV (the listing failed with a server error), nor sent to the Nextcloud clients.

Visible spaces (``Zs``: U+00A0, U+3000) and private-use characters stay allowed.
"""

from __future__ import annotations

import unicodedata

from polaris.errors import ValidationFailed

MAX_NAME_BYTES = 255
#: Unicode general categories no name may contain (see the module's docstring).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER, format characters that Indian scripts need.
JOINERS = frozenset("\u200c\u200d")


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
        if refused(char):
            raise ValidationFailed(
                f"a name cannot contain the invisible character U+{ord(char):04X}",
                code="name_invalid",
            )
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValidationFailed(
            f"a name is at most {MAX_NAME_BYTES} bytes of UTF-8", code="name_too_long"
        )
    return name


def refused(char: str) -> bool:
    """Whether no name may contain ``char`` (see the module's docstring)."""
    if unicodedata.category(char) in REFUSED_CATEGORIES:
        return char not in JOINERS
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def sort_key(name: str) -> str:
    return name.casefold()


def repair_name(name: str) -> tuple[str, str | None]:
    """A valid name as close to ``name`` as the rules allow, and why it differs (None if not).

    For names that come from somewhere no rule was applied (a recovery reading old manifests):
    each refused character and each ``/`` or ``\\`` becomes ``_``, an empty name ``unnamed``, and
    a name too long is cut at a character boundary.
    """
    try:
        return normalise_name(name), None
    except ValidationFailed as error:
        reason = error.detail
    fixed = "".join(
        "_" if char in "/\\" or refused(char) else char
        for char in unicodedata.normalize("NFC", name)
    )
    if not fixed.strip():
        fixed = "unnamed"
    elif fixed in {".", ".."}:
        fixed = fixed.replace(".", "_")
    while len(fixed.encode("utf-8")) > MAX_NAME_BYTES:
        fixed = fixed[:-1]
    return normalise_name(fixed), reason


def shown(name: str) -> str:
    """``name`` quoted for a terminal or a report: refused characters as ``\\uXXXX`` escapes, so
    a bidirectional override or a control character is named, never obeyed."""
    escaped = "".join(f"\\u{ord(char):04x}" if refused(char) else char for char in name)
    return f"'{escaped}'"
