"""Units: the closure table and CSV imports that are all-or-nothing and name the bad row."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris.errors import Conflict, ValidationFailed
from polaris.identity import roles, units
from polaris.identity.csvrows import ImportRejected
from polaris.identity.models import Unit, UnitClosure
from polaris.identity.units import UnitKind, UnitSpec
from tests.factories import SYSTEM, build_tree

GOOD_CSV = """code,name,kind,parent_code,name_hi
PHQ,Police Headquarters,hq,,पुलिस मुख्यालय
PS-1,PS Kotwali,station,SDV-1,थाना कोतवाली
DST-1,SP Office Bhopal,district,PHQ,
SDV-1,SDOP Bhopal,subdivision,DST-1,
"""


def unit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Unit)) or 0


def test_closure_holds_every_ancestor_with_its_depth(db_session: Session) -> None:
    ids = build_tree(db_session)
    rows = db_session.execute(
        select(UnitClosure.ancestor_id, UnitClosure.depth).where(
            UnitClosure.descendant_id == ids["PS-A1"]
        )
    ).all()
    depth_by_code = {code: depth for code in ids for a, depth in rows if a == ids[code]}
    assert depth_by_code == {"PS-A1": 0, "SDV-A": 1, "DST-A": 2, "RNG-A": 3, "PHQ": 4}


def test_reach_is_down_the_tree(db_session: Session) -> None:
    ids = build_tree(db_session)
    above, below = units.reach(session=db_session, unit_id=ids["DST-A"])
    assert above == {ids["RNG-A"], ids["PHQ"]}
    assert below == {ids["SDV-A"], ids["PS-A1"], ids["PS-A2"]}


def test_import_orders_parents_first_and_keeps_hindi_names(db_session: Session) -> None:
    roles.ensure_default_roles(db_session)
    created = units.import_units_csv(session=db_session, data=GOOD_CSV.encode(), context=SYSTEM)
    assert [u.code for u in created] == ["PHQ", "DST-1", "SDV-1", "PS-1"]
    station = units.get_by_code(session=db_session, code="PS-1")
    assert station.name_hi == "थाना कोतवाली"
    _, below = units.reach(session=db_session, unit_id=created[0].id)
    assert len(below) == 3


@pytest.mark.parametrize(
    ("csv_text", "row", "reason"),
    [
        ("code,name,kind\nPHQ,HQ,hq\n", 1, "missing columns: parent_code"),
        ("code,name,kind,parent_code,colour\n", 1, "unknown columns: colour"),
        (
            "code,name,kind,parent_code\nPHQ,HQ,hq,\nA,A,station,PHQ\nA,A2,station,PHQ\n",
            4,
            "unit code A is repeated",
        ),
        ("code,name,kind,parent_code\nPHQ,HQ,hq,\nA,A,station,NOWHERE\n", 3, "NOWHERE is not"),
        ("code,name,kind,parent_code\nPHQ,HQ,hq,\nA,A,planet,PHQ\n", 3, "unknown unit kind"),
        ("code,name,kind,parent_code\nA,A,station,B\nB,B,station,A\n", 2, "cycle"),
        ("code,name,kind,parent_code\nA,A,station,A\n", 2, "under itself"),
        ("code,name,kind,parent_code\nA,A,station,\n", 2, "only a headquarters may have no parent"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_imported(
    db_session: Session, csv_text: str, row: int, reason: str
) -> None:
    with pytest.raises(ImportRejected) as raised:
        units.import_units_csv(session=db_session, data=csv_text.encode(), context=SYSTEM)
    assert any(e.row == row and reason in e.text for e in raised.value.errors), raised.value.errors
    assert unit_count(db_session) == 0


def test_a_code_that_already_exists_is_refused(db_session: Session) -> None:
    build_tree(db_session)
    before = unit_count(db_session)
    data = "code,name,kind,parent_code\nNEW,New,station,SDV-A\nPS-A1,Again,station,SDV-A\n"
    with pytest.raises(ImportRejected) as raised:
        units.import_units_csv(session=db_session, data=data.encode(), context=SYSTEM)
    assert [(e.row, "already exists" in e.text) for e in raised.value.errors] == [(3, True)]
    assert unit_count(db_session) == before
    with pytest.raises(Conflict):
        units.create_unit(
            session=db_session,
            spec=UnitSpec("PS-A1", "x", UnitKind.STATION, "SDV-A"),
            context=SYSTEM,
        )


def test_invalid_utf8_names_the_line(db_session: Session) -> None:
    data = b"code,name,kind,parent_code\nPHQ,HQ,hq,\nA,\xff\xfe,station,PHQ\n"
    with pytest.raises(ImportRejected) as raised:
        units.import_units_csv(session=db_session, data=data, context=SYSTEM)
    assert raised.value.errors[0].row == 3
    assert "UTF-8" in raised.value.errors[0].text


def test_nfd_hindi_is_stored_as_nfc(db_session: Session) -> None:
    import unicodedata

    nfd = unicodedata.normalize("NFD", "थाना ऩगर कोतवाली")  # ऩ composes; क़ would not
    assert nfd != unicodedata.normalize("NFC", nfd)
    data = f"code,name,kind,parent_code,name_hi\nPHQ,HQ,hq,,{nfd}\n".encode()
    (unit,) = units.import_units_csv(session=db_session, data=data, context=SYSTEM)
    assert unit.name_hi == unicodedata.normalize("NFC", nfd)


def test_create_needs_a_known_parent(db_session: Session) -> None:
    with pytest.raises(ValidationFailed):
        units.create_unit(
            session=db_session, spec=UnitSpec("X", "X", UnitKind.STATION, None), context=SYSTEM
        )
