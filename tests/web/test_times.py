"""One formatter for every time a page shows: the instance's zone (IST by default) with its name,
Hindi month names on Hindi pages; a bad zone in the settings is refused when they are read."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from polaris.config import load_settings
from polaris.instance import Instance
from polaris.web import times
from tests.web.test_drive_pages import folder, put
from tests.web.test_pages import sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

AT = dt.datetime(2026, 12, 6, 6, 22, 30, tzinfo=dt.UTC)


def test_utc_is_shown_in_ist_with_the_zone() -> None:
    assert times.shown(AT, language="en") == "6 Dec 2026, 11:52 IST"


def test_a_time_without_a_zone_is_utc() -> None:
    assert times.shown(AT.replace(tzinfo=None), language="en") == "6 Dec 2026, 11:52 IST"


def test_hindi_month_names_on_hindi_pages() -> None:
    assert times.shown(AT, language="hi") == "6 दिस॰ 2026, 11:52 IST"


def test_the_zone_is_a_setting() -> None:
    assert times.shown(AT, language="en", zone_name="UTC") == "6 Dec 2026, 06:22 UTC"
    # Across midnight: the date is the zone's.
    late = dt.datetime(2026, 12, 6, 20, 0, tzinfo=dt.UTC)
    assert times.shown(late, language="en") == "7 Dec 2026, 01:30 IST"


def test_an_unknown_zone_is_refused(tmp_path: Path) -> None:
    assert load_settings(tmp_path).time_zone == "Asia/Kolkata"
    assert load_settings(tmp_path, time_zone="UTC").time_zone == "UTC"
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        load_settings(tmp_path, time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        times.zone("../etc/passwd")


def test_script_format_tells_the_chat_script_the_zone() -> None:
    assert times.script_format(language="hi") == {
        "zone": "Asia/Kolkata",
        "label": "IST",
        "locale": "hi-IN",
    }


def test_folder_page_shows_ist_in_both_languages(seeded: Instance, client: TestClient) -> None:
    folder_id = folder(seeded, "ct.one", "केस")
    put(seeded, "ct.one", "note.txt", b"x", parent=folder_id)
    sign_in(client, "ct.one")
    english = client.get(f"/drive/{folder_id}").text
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} IST", english), english
    client.cookies.set("polaris_lang", "hi")
    hindi = client.get(f"/drive/{folder_id}").text
    assert re.search(r"\d{1,2} \S+ \d{4}, \d{2}:\d{2} IST", hindi)
    assert " AM " not in hindi and " PM " not in english
