"""Search over HTTP (API and page) on a real Tantivy index, kept in step with the drive by jobs:
results are exactly what the searcher may read, and follow uploads, renames, moves, shares,
classification and the trash."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.audit.models import AuditRecord
from polaris.drive import classifying, service, shares, spaces, trash
from polaris.drive.models import Node
from polaris.handlers import schedule_periodic, settle
from polaris.identity.actors import actor_for
from polaris.identity.models import Unit, User
from polaris.instance import Instance
from polaris.search.indexing import engine_of, ensure_current
from polaris.search.interface import SearchQuery, Visibility
from polaris.search.paging import search_page
from polaris.search.text import TERMS_VERSION
from tests.factories import SYSTEM, make_user
from tests.web.test_drive_pages import folder, put
from tests.web.test_pages import sign_in


def space_of(instance: Instance, node_id: int) -> int:
    session: Session = instance.sessions()
    node = session.get(Node, node_id)
    session.close()
    assert node is not None
    return node.space_id


def find(client: TestClient, q: str, **params: Any) -> list[str]:
    response = client.get("/api/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [hit["node"]["name"] for hit in response.json()["hits"]]


def as_user(instance: Instance, username: str):  # type: ignore[no-untyped-def]
    session: Session = instance.sessions()
    user = session.scalars(select(User).where(User.username == username)).one()
    return session, actor_for(session=session, user=user, auth_factors="password")


def test_results_follow_the_drive_and_the_searchers_rights(
    seeded: Instance, client: TestClient
) -> None:
    session: Session = seeded.sessions()
    make_user(session, "hc.b1", unit="PS-B1", role="head_constable")
    session.commit()
    session.close()
    cases = folder(seeded, "ct.one", "प्रकरण")
    report = put(seeded, "ct.one", "चोरी की रिपोर्ट.txt", b"x", parent=cases)
    put(seeded, "ct.one", "चार पन्ने.txt", b"y")
    settle(seeded)

    sign_in(client, "ct.one")
    assert find(client, "चोरी") == ["चोरी की रिपोर्ट.txt"]  # not चार
    assert find(client, "रिपो*") == ["चोरी की रिपोर्ट.txt"]
    assert find(client, "प्रकरण") == ["प्रकरण"]
    assert find(client, "चोरी", type="folder") == []

    other = TestClient(client.app, base_url="https://testserver")
    sign_in(other, "hc.b1")
    assert find(other, "चोरी") == []  # another station's officer: not theirs

    session, actor = as_user(seeded, "ct.one")
    colleague = session.scalars(select(User).where(User.username == "hc.b1")).one()
    shares.create_share(
        session=session, actor=actor, context=SYSTEM, node_id=cases, subject_type="user",
        subject_id=colleague.id, permission=shares.Permission.READ, include_subunits=False,
        expires_at=None,
    )  # fmt: skip
    session.commit()
    session.close()
    assert find(other, "चोरी") == ["चोरी की रिपोर्ट.txt"]  # shared: no reindexing needed

    session, actor = as_user(seeded, "ct.one")
    service.update_node(
        session=session, actor=actor, context=SYSTEM, node_id=report, name="FIR 12-2026.txt"
    )
    session.commit()
    session.close()
    settle(seeded)
    assert find(client, "चोरी") == []
    assert find(client, "FIR") == ["FIR 12-2026.txt"]

    session, actor = as_user(seeded, "ct.one")
    trash.trash_node(session=session, actor=actor, context=SYSTEM, node_id=cases)
    session.commit()
    session.close()
    settle(seeded)
    assert find(client, "FIR") == [] and find(client, "प्रकरण") == []

    session, actor = as_user(seeded, "ct.one")
    trash.restore_node(session=session, actor=actor, context=SYSTEM, node_id=cases)
    session.commit()
    session.close()
    settle(seeded)
    assert find(client, "FIR") == ["FIR 12-2026.txt"]


def station_with_a_secret_cleared_head(instance: Instance) -> int:
    """Station PS-A1 gets its SHO ``sho.one``, cleared for Secret; returns its space's root."""
    session: Session = instance.sessions()
    make_user(session, "sho.one", role="station_head", clearance=Classification.SECRET)
    unit = session.scalars(select(Unit).where(Unit.code == "PS-A1")).one()
    station_root = spaces.ensure_unit_space(session, unit, spaces.SpaceDefaults()).root_id
    session.commit()
    session.close()
    return station_root


def test_a_level_above_the_searchers_clearance_hides_the_whole_folder(
    seeded: Instance, client: TestClient
) -> None:
    station_root = station_with_a_secret_cleared_head(seeded)
    inquiry = folder(seeded, "sho.one", "जांच", parent=station_root)
    put(seeded, "sho.one", "statement of witness.txt", b"x", parent=inquiry)
    settle(seeded)
    sign_in(client, "ct.one")
    assert find(client, "witness") == ["statement of witness.txt"]  # the station's space

    session, actor = as_user(seeded, "sho.one")
    classifying.set_classification(
        session=session, actor=actor, context=SYSTEM, node_id=inquiry,
        classification=Classification.SECRET,
    )  # fmt: skip
    session.commit()
    session.close()
    settle(seeded)
    assert find(client, "witness") == []
    # Still in the index, at its new level: someone cleared for it finds it.
    cleared = Visibility(
        frozenset({space_of(seeded, inquiry)}), frozenset(), int(Classification.SECRET)
    )
    hits = search_page(engine_of(seeded), SearchQuery(text="witness"), cleared).hits
    assert len(hits) == 1


def test_the_page_marks_matches_and_escapes_names(seeded: Instance, client: TestClient) -> None:
    put(seeded, "ct.one", "<img src=x onerror=alert(1)>चोरी report.txt", b"x")
    settle(seeded)
    sign_in(client, "ct.one")
    page = client.get("/search", params={"q": "चोरी"})
    assert page.status_code == 200
    assert "&lt;img src=x onerror=alert(1)&gt;<mark>चोरी</mark> report.txt" in page.text
    assert "<img src=x" not in page.text
    assert "1 result" in page.text
    session: Session = seeded.sessions()
    details = session.scalars(
        select(AuditRecord.detail).where(AuditRecord.action == "search.query")
    ).all()
    session.close()
    assert any('"query":"चोरी"' in (d or "").replace(" ", "") for d in details)


def test_a_bad_filter_is_a_clear_error(seeded: Instance, client: TestClient) -> None:
    sign_in(client, "ct.one")
    response = client.get("/api/v1/search", params={"q": "x", "unit": "PS-NOPE"})
    assert response.status_code == 422
    assert response.json()["code"] == "search_filter"


def classify(instance: Instance, username: str, node_id: int, level: Classification) -> None:
    session, actor = as_user(instance, username)
    classifying.set_classification(
        session=session, actor=actor, context=SYSTEM, node_id=node_id, classification=level
    )
    session.commit()
    session.close()


def test_a_match_hidden_before_the_index_caught_up_is_not_counted(
    seeded: Instance, client: TestClient, engine_name: str
) -> None:
    station_root = station_with_a_secret_cleared_head(seeded)
    inquiry = folder(seeded, "sho.one", "जांच", parent=station_root)
    put(seeded, "sho.one", "statement of witness.txt", b"x", parent=inquiry)
    put(seeded, "sho.one", "witness list.txt", b"y", parent=station_root)
    settle(seeded)
    sign_in(client, "ct.one")
    before = client.get("/api/v1/search", params={"q": "witness"}).json()
    assert before["total"] == 2 and len(before["hits"]) == 2

    classify(seeded, "sho.one", inquiry, Classification.SECRET)  # its index job has not run
    stale = client.get("/api/v1/search", params={"q": "witness"}).json()
    assert [hit["node"]["name"] for hit in stale["hits"]] == ["witness list.txt"]
    assert stale["total"] == 1 and stale["total_exact"]
    page = client.get("/search", params={"q": "witness"})
    assert "1 result" in page.text and "statement" not in page.text
    settle(seeded)
    assert client.get("/api/v1/search", params={"q": "witness"}).json() == stale


def test_another_stations_hidden_documents_change_no_response(
    seeded: Instance, client: TestClient, engine_name: str
) -> None:
    """The score of a hit gave away how many hidden documents hold its words (BM25's IDF)."""
    session: Session = seeded.sessions()
    make_user(session, "hc.b1", unit="PS-B1", role="head_constable")
    session.commit()
    session.close()
    put(seeded, "ct.one", "मालखाना रजिस्टर.txt", b"x")
    settle(seeded)
    sign_in(client, "ct.one")
    before = client.get("/api/v1/search", params={"q": "मालखाना"})
    assert before.json()["total"] == 1
    assert "score" not in before.json()["hits"][0]

    for n in range(25):
        put(seeded, "hc.b1", f"मालखाना {n}.txt", b"z")
    settle(seeded)
    after = client.get("/api/v1/search", params={"q": "मालखाना"})
    assert after.content == before.content


def test_a_malformed_query_is_a_clear_error_never_a_500(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    for q in ("चोरी OR", "NOT चोरी", "OR"):
        response = client.get("/api/v1/search", params={"q": q})
        assert response.status_code in (400, 422), response.text
        assert "search_syntax" in response.text
        page = client.get("/search", params={"q": q})
        assert page.status_code == 200
        assert "Write OR between two words" in page.text


def test_officers_spellings_find_the_file(
    seeded: Instance, client: TestClient, engine_name: str
) -> None:
    put(seeded, "ct.one", "FIR No. 1191-2024 चोरी.txt", "थाना कोतवाली, फ़ोटो ७७".encode())
    put(seeded, "ct.one", "चार पन्ने.txt", b"y")
    settle(seeded)
    sign_in(client, "ct.one")
    name = "FIR No. 1191-2024 चोरी.txt"
    for q in ("1191/24", "एफआईआर 1191/2024", "kotwali", "फोटो 77", "chori NOT चार"):
        assert find(client, q) == [name], q
    assert find(client, "chori") == [name, "चार पन्ने.txt"]  # चार agrees in consonants only
    assert find(client, "चोरी OR चार") == ["चार पन्ने.txt", name]


def test_older_terms_are_rebuilt_when_a_worker_starts(seeded: Instance, engine_name: str) -> None:
    assert ensure_current(seeded) is False  # a new index is current (and marked so)
    put(seeded, "ct.one", "बाज़ार.txt", "थाना कोतवाली में चोरी".encode())
    settle(seeded)
    engine = engine_of(seeded)
    assert ensure_current(seeded) is False  # still current: nothing queued
    # As an index of the previous version: its terms recorded as older, its keys missing.
    engine.clear()
    engine.set_terms_version(TERMS_VERSION - 1)
    everyone = Visibility(frozenset(range(1, 1000)), frozenset(), max_classification=3)

    def found(text: str) -> int:
        return len(engine.matches(SearchQuery(text=text), everyone, 100).node_ids)

    assert found("chori") == 0
    schedule_periodic(seeded)  # what every worker does as it starts
    schedule_periodic(seeded)  # a second worker: one job, keyed
    settle(seeded)
    assert engine.terms_version() == TERMS_VERSION
    assert found("chori") == 1 and found("बाजार") == 1
    assert ensure_current(seeded) is False
