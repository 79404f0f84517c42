"""Translations for pages: gettext catalogues (``locale/<lang>/LC_MESSAGES/messages.po``).

The ``.po`` files in the repository are the source: they are read with Babel when the process
starts, so there is no compile step to forget. ``scripts/i18n.sh`` extracts new strings from the
code and templates and merges them into every catalogue; a test fails when a string in the code
has no Hindi translation.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"en": "English", "hi": "हिन्दी"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "polaris_lang"


@functools.cache
def translations(language: str) -> Translations:
    """The catalogue of ``language`` (one of ``LANGUAGES``), read once per process."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def pick_language(request: Request) -> str:
    """The language the person chose (cookie), else the browser's first supported, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE
