"""What to tell a person whose name was refused, and a name to offer instead.

``names.normalise_name`` says *that* a name is refused (the API's ``code`` and ``detail``); a form
says *why*, in the person's language, keeps what they typed, and where it can, offers a valid
name. A slash, common in case numbers ("अपराध क्र. 45/2026"), is never changed silently: the
form offers the look-alike DIVISION SLASH U+2215 ("45∕2026") as a suggestion to accept with
one click, or the person writes "45-2026". Silently mapping would make two spellings of one case
number that search and sorting treat as different, without the person knowing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from polaris.drive.names import MAX_NAME_BYTES, refused, repair_name
from polaris.web.messages import N_

#: The look-alikes offered for the two separators no name may hold.
LOOKALIKES = {"/": "\u2215", "\\": "\u29f5"}

SLASH = N_(
    "A name cannot contain “/” or “\\”: they separate folders. For a case number such as"
    " 45/2026, write 45-2026, or use the look-alike “∕” offered below."
)
EMPTY = N_("Type a name.")
DOTS = N_("“.” and “..” cannot be names.")
INVISIBLE = N_(
    "The name contains an invisible control character (often pasted from another program)."
    " The name offered below has “_” in its place."
)
TOO_LONG = N_("The name is too long: at most 255 bytes, about 85 Hindi letters.")
TAKEN = N_("Something of this name is already in this folder. Choose another name.")


@dataclass(frozen=True)
class NameHelp:
    """The untranslated reason, and a valid name to offer (None when there is none)."""

    reason: str
    suggestion: str | None = None


def explain(name: str, code: str) -> NameHelp:
    """Why ``name`` was refused with ``code`` (``name_*`` codes), and what to use instead."""
    if code == "name_taken":
        return NameHelp(TAKEN)
    normal = unicodedata.normalize("NFC", name)
    if not normal.strip():
        return NameHelp(EMPTY)
    if normal in {".", ".."}:
        return NameHelp(DOTS)
    if len(normal.encode("utf-8")) > MAX_NAME_BYTES:
        return NameHelp(TOO_LONG, repair_name(normal)[0])
    if any(sep in normal for sep in LOOKALIKES):
        offered = normal
        for sep, lookalike in LOOKALIKES.items():
            offered = offered.replace(sep, lookalike)
        return NameHelp(SLASH, repair_name(offered)[0])
    if any(refused(char) for char in normal):
        return NameHelp(INVISIBLE, repair_name(normal)[0])
    return NameHelp(N_("This name is not allowed."))
