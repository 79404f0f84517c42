"""Rendering pages: one Jinja2 environment, autoescaping everything, translated per request.

Templates call ``_("...")`` for every user-facing string (Babel extracts them from there), and
format dates, numbers and sizes through the helpers below so that Hindi pages get Hindi formats.
Times are shown in the instance's zone (IST by default) with the zone's name (``when``,
``polaris.web.times``); static files are linked by their versioned address (``static``,
``polaris.web.assets``) so that browsers may keep them for a year.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from polaris.web import assets, times
from polaris.web.i18n import LANGUAGES, pick_language, translations
from polaris.web.messages import SIZE_UNITS

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = assets.STATIC_DIR

environment = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_LOCALES = times.LOCALES


def time_zone_of(request: Request) -> str:
    """The instance's display zone (``Settings.time_zone``); IST for an app without one."""
    instance = getattr(request.app.state, "instance", None)
    return instance.settings.time_zone if instance is not None else times.DEFAULT_ZONE


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    language = pick_language(request)
    catalogue = translations(language)
    locale = _LOCALES[language]

    zone_name = time_zone_of(request)

    def when(value: dt.datetime | None) -> str:
        """A time in the instance's zone, saying which (a time without a zone is UTC)."""
        if value is None:
            return ""
        return times.shown(value, language=language, zone_name=zone_name)

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

    def unit_name(unit: Any) -> str:
        """A unit's name in the page's language: ``name_hi`` on a Hindi page when the unit has
        one, else the English ``name`` (any object with both, or a mapping)."""
        fields: dict[str, Any] = (
            unit
            if isinstance(unit, dict)
            else {"name": getattr(unit, "name", None), "name_hi": getattr(unit, "name_hi", None)}
        )
        hindi = fields.get("name_hi") if language == "hi" else None
        return str(hindi or fields.get("name") or "")

    def translate_all(messages: dict[str, str]) -> dict[str, str]:
        """Each message translated, for a page script's JSON data block."""
        return {key: catalogue.gettext(message) for key, message in messages.items()}

    page = environment.get_template(template).render(
        _=translate,
        translate_all=translate_all,
        ngettext=catalogue.ngettext,
        unit_name=unit_name,
        language=language,
        languages=LANGUAGES,
        when=when,
        time_format=times.script_format(language=language, zone_name=zone_name),
        static=assets.url,
        number=number,
        size=size,
        request_path=request.url.path,
        request_target=_target(request),
        incident=getattr(request.state, "incident", None),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def _target(request: Request) -> str:
    """The page's path with its query string: where the language switch comes back to."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path
