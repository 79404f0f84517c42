"""The directory's picker (``GET /api/v1/directory/suggest``): part of a name, rank, unit name or
code, Hindi or English, any case, with or without a nukta; only what the caller may see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from polaris.identity import groups
from polaris.identity.models import Unit, User
from tests.drive.conftest import Drive, drive_on
from tests.factories import SYSTEM

URL = "/api/v1/directory/suggest"


@pytest.fixture
def drive(engine: Engine, tmp_path: Path) -> Iterator[Drive]:
    for made in drive_on(engine, tmp_path):
        session = made.instance.sessions()
        officer = session.get(User, made.user_ids["hc.b1"])
        assert officer is not None
        officer.full_name, officer.rank = "राजेश शर्मा", "HC"
        station = session.get(Unit, made.unit_ids["PS-B1"])
        assert station is not None
        station.name, station.name_hi = "Kotwali Bazar", "कोतवाली बाज़ार"
        visible = groups.create_group(
            session=session, name="SIT चोरी", unit_id=made.unit_ids["PS-A1"], context=SYSTEM
        )
        groups.create_group(
            session=session, name="SIT B1 beat", unit_id=made.unit_ids["PS-B1"], context=SYSTEM
        )
        session.commit()
        session.close()
        made.unit_ids["group:SIT चोरी"] = visible.id
        yield made


def refs(answer: list[dict[str, object]]) -> list[str]:
    return [str(entry["ref"]) for entry in answer]


def test_people_by_part_of_a_name_rank_or_unit_in_either_script(drive: Drive) -> None:
    person = f"user:{drive.user_ids['hc.b1']}"
    for typed in ("शर्मा", "hc शर्मा", "KOTWALI", "कोतवाली बाजार", "ps-b1", "HC.B1"):
        answer = drive.get("hc.a1", URL, params={"q": typed, "kind": "user"})
        assert answer.status_code == 200, answer.text
        assert person in refs(answer.json()), typed
    entry = next(e for e in answer.json() if e["ref"] == person)
    assert entry == {
        "kind": "user",
        "id": drive.user_ids["hc.b1"],
        "ref": person,
        "label": "HC राजेश शर्मा",
        "unit": "Kotwali Bazar",
        "handle": "hc.b1",
    }
    # Every word must match some field: a rank that is not theirs leaves them out.
    assert person not in refs(drive.get("hc.a1", URL, params={"q": "SI शर्मा"}).json())


def test_units_in_the_callers_language_and_with_or_without_nukta(drive: Drive) -> None:
    unit = f"unit:{drive.unit_ids['PS-B1']}"
    hindi = drive.client.get(
        URL, params={"q": "बाजार"}, headers=drive.headers("hc.a1", **{"Accept-Language": "hi"})
    )
    entry = next(e for e in hindi.json() if e["ref"] == unit)
    assert (entry["label"], entry["handle"]) == ("कोतवाली बाज़ार", "PS-B1")
    english = drive.get("hc.a1", URL, params={"q": "बाज़ार", "kind": "unit"})
    assert [e["label"] for e in english.json()] == ["Kotwali Bazar"]
    # NFKC: full-width letters are their plain ones.
    assert unit in refs(drive.get("hc.a1", URL, params={"q": "ＰＳ－Ｂ１"}).json())


def test_a_group_the_caller_may_not_see_is_not_suggested(drive: Drive) -> None:
    seen = drive.get("hc.a1", URL, params={"q": "sit", "kind": "group"}).json()
    assert [e["label"] for e in seen] == ["SIT चोरी"]
    assert [e["label"] for e in drive.get("hc.b1", URL, params={"q": "sit"}).json()] == [
        "SIT B1 beat"
    ]
    assert len(drive.get("admin", URL, params={"q": "SIT", "kind": "group"}).json()) == 2


def test_a_disabled_account_is_not_suggested_and_exact_handles_come_first(drive: Drive) -> None:
    session = drive.instance.sessions()
    user = session.get(User, drive.user_ids["ct.a1"])
    assert user is not None
    user.disabled_at = user.created_at
    session.commit()
    session.close()
    found = refs(drive.get("hc.a1", URL, params={"q": "a1", "kind": "user"}).json())
    assert f"user:{drive.user_ids['ct.a1']}" not in found
    assert f"user:{drive.user_ids['hc.a1']}" in found
    first = drive.get("hc.a1", URL, params={"q": "hc.a1", "kind": "user"}).json()[0]
    assert first["handle"] == "hc.a1"


def test_bad_input_is_a_clear_error_and_empty_input_finds_nothing(drive: Drive) -> None:
    assert drive.get("hc.a1", URL, params={"q": "   "}).json() == []
    too_long = drive.get("hc.a1", URL, params={"q": "x" * 201})
    assert too_long.status_code == 422
    assert drive.get("hc.a1", URL, params={"q": "a", "kind": "robot"}).status_code == 422
    assert drive.get("hc.a1", URL, params={"q": "a", "limit": 0}).status_code == 422
    # LIKE wildcards are letters like any other.
    assert drive.get("hc.a1", URL, params={"q": "%_%"}).json() == []
    assert drive.client.get(URL, params={"q": "a"}).status_code == 401
