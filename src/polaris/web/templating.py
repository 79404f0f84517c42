"""Rendering pages: one Jinja2 environment, autoescaping everything, translated per request.

Templates call ``_("...")`` for every user-facing string (Babel extracts them from there), and
format dates, numbers and sizes through the helpers below so that Hindi pages get Hindi formats.
Times are shown in IST with the zone (``when``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from polaris.web.i18n import LANGUAGES, pick_language, translations
from polaris.web.messages import SIZE_UNITS

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

environment = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_LOCALES = {"en": "en_IN", "hi": "hi_IN"}
#: Times on pages are Indian Standard Time, with the zone written after them.
IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    language = pick_language(request)
    catalogue = translations(language)
    locale = _LOCALES[language]

    def when(value: dt.datetime | None) -> str:
        """A time in IST, saying so (a time without a zone is UTC, as the database keeps it)."""
        if value is None:
            return ""
        shown = format_datetime(value, "medium", tzinfo=IST, locale=locale)
        return catalogue.gettext("%(time)s IST") % {"time": shown}

    def number(value: int | float) -> str:
        return format_decimal(value, locale=locale)

    def size(value: int | None) -> str:
        if value is None:
            return ""
        units = [catalogue.gettext(unit) for unit in SIZE_UNITS]
        amount = float(value)
        for unit in units:
            if amount < 1024 or unit == units[-1]:
                shown = format_decimal(round(amount, 1), locale=locale)
                return f"{shown} {unit}"
            amount /= 1024
        return str(value)

    def translate(message: str, **values: object) -> str:
        """gettext, then ``%(name)s`` placeholders filled (the result is escaped on output)."""
        text = catalogue.gettext(message)
        return text % values if values else text

    def translate_all(messages: dict[str, str]) -> dict[str, str]:
        """Each message translated, for a page script's JSON data block."""
        return {key: catalogue.gettext(message) for key, message in messages.items()}

    page = environment.get_template(template).render(
        _=translate,
        translate_all=translate_all,
        ngettext=catalogue.ngettext,
        language=language,
        languages=LANGUAGES,
        when=when,
        number=number,
        size=size,
        request_path=request.url.path,
        incident=getattr(request.state, "incident", None),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)
