"""Times as people read them: in the instance's zone (Indian Standard Time unless configured
otherwise, ``Settings.time_zone``), with the zone written after them, in the page's language.

One formatter for every time a page shows (templates call it as ``when``), so that a list, a
banner and a detail page never disagree. The database keeps UTC; a time without a zone is UTC.
The page's script for live chat messages formats with the same zone and pattern
(``script_format``), since it adds times the server never rendered.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime

from polaris.clock import utcnow

DEFAULT_ZONE = "Asia/Kolkata"
#: "6 Dec 2026, 11:52": day, short month, year, 24-hour time (no seconds: nobody reads them).
PATTERN = "d MMM y, HH:mm"
#: The Babel locale of each page language (India's conventions for English too).
LOCALES = {"en": "en_IN", "hi": "hi_IN"}


@functools.cache
def zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (an IANA name); ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def shown(value: dt.datetime, *, language: str, zone_name: str = DEFAULT_ZONE) -> str:
    """``value`` in ``zone_name``, e.g. "6 Dec 2026, 11:52 IST" (Hindi month names in Hindi)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    locale = LOCALES.get(language, LOCALES["en"])
    where = zone(zone_name)
    text = format_datetime(value, PATTERN, tzinfo=where, locale=locale)
    return f"{text} {zone_label(value, language=language, zone_name=zone_name)}"


def zone_label(value: dt.datetime, *, language: str, zone_name: str = DEFAULT_ZONE) -> str:
    """The zone's short name at ``value`` ("IST"; "UTC"; an offset where the locale has none)."""
    locale = LOCALES.get(language, LOCALES["en"])
    return format_datetime(value, "z", tzinfo=zone(zone_name), locale=locale)


def script_format(*, language: str, zone_name: str = DEFAULT_ZONE) -> dict[str, str]:
    """What a page's script needs to show a time the same way: the zone, its label now, and the
    BCP 47 locale for ``Intl.DateTimeFormat``."""
    now = utcnow()
    return {
        "zone": zone_name,
        "label": zone_label(now, language=language, zone_name=zone_name),
        "locale": LOCALES.get(language, LOCALES["en"]).replace("_", "-"),
    }
