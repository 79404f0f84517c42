"""Message search (``GET /api/v1/chat/search``): indexed through the change stream, only the rooms
one is joined to, deleted text never found nor counted, edits followed, the documents' folding
(Roman script, nukta, digits), filters by room, sender and IST time. On each database, with each
engine: Tantivy on SQLite, PostgreSQL's own search and Tantivy on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from polaris.audit.models import AuditRecord
from polaris.handlers import settle
from polaris.search.messages import message_engine_of
from polaris.search.postgres_engine import PostgresSearchEngine
from tests.chat.records_support import delete, edit, group, site_on
from tests.chat.web_support import ChatSite, Officer

SETUPS = ["sqlite-tantivy", "postgresql-postgresql", "postgresql-tantivy"]


@pytest.fixture(scope="module", params=SETUPS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatSite]:
    backend, engine = str(request.param).split("-")

    class Param:
        param = backend

    for made in site_on(Param(), tmp_path_factory, f"chat_search_{engine}"):  # type: ignore[arg-type]
        made.instance.settings.search.engine = engine  # type: ignore[assignment]
        opened = message_engine_of(made.instance)
        assert isinstance(opened, PostgresSearchEngine) == (engine == "postgresql")
        yield made


def find(officer: Officer, q: str, **params: Any) -> dict[str, Any]:
    response = officer.get("/api/v1/chat/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def keys(result: dict[str, Any]) -> list[str]:
    return [hit["event_id"] for hit in result["hits"]]


def test_members_find_their_rooms_messages_and_nobody_else_does(site: ChatSite) -> None:
    asha, bala, dev = site["asha"], site["bala"], site["dev"]
    room = group(asha, "चोरी जांच", bala)
    other = group(dev, "dev's own")
    theft = asha.send(room, "थाने में चोरी की रिपोर्ट FIR १२३/2026 दर्ज")
    land = bala.send(room, "ज़मीन विवाद: the land dispute")
    own = dev.send(other, "मेरी चोरी वाली फ़ाइल")
    settle(site.instance)

    assert keys(find(bala, "चोरी")) == [theft["event_id"]]
    assert find(bala, "चोरी")["total"] == 1  # dev's message is neither shown nor counted
    assert keys(find(dev, "चोरी")) == [own["event_id"]]
    assert keys(find(bala, "chori")) == [theft["event_id"]]  # Roman script
    assert keys(find(asha, "जमीन")) == [land["event_id"]]  # nukta folded
    assert keys(find(asha, "123")) == [theft["event_id"]]  # Devanagari digits
    hit = find(bala, "रिपोर्ट")["hits"][0]
    assert hit["room_id"] == room and hit["sender_id"] == asha.user_id
    assert hit["sent_at"].endswith("+05:30") and hit["room_name"] == "चोरी जांच"
    start, end = hit["snippet"]["spans"][0]
    assert hit["snippet"]["text"][start:end] == "रिपोर्ट"
    # A room filter never widens: dev asking for the room he is not in finds nothing.
    assert find(dev, "चोरी", room=room)["total"] == 0


def test_deleted_text_is_never_found_nor_counted(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "deletions", bala)
    gone = asha.send(room, "गुप्त सूचना kilimanjaro")
    kept = asha.send(room, "सामान्य सूचना kilimanjaro")
    settle(site.instance)
    assert find(bala, "kilimanjaro")["total"] == 2
    assert delete(asha, gone["event_id"]).status_code == 200
    # Before the index job runs: the database's check hides it from hits and total alike.
    lagging = find(bala, "kilimanjaro")
    assert keys(lagging) == [kept["event_id"]] and lagging["total"] == 1
    settle(site.instance)
    assert keys(find(bala, "गुप्त")) == [] and find(bala, "गुप्त")["total"] == 0
    assert keys(find(asha, "kilimanjaro")) == [kept["event_id"]]


def test_edits_are_followed(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "edits", bala)
    sent = bala.send(room, "vehicle zanzibar seized")
    settle(site.instance)
    assert keys(find(asha, "zanzibar")) == [sent["event_id"]]
    assert edit(bala, sent["event_id"], "vehicle mombasa seized").status_code == 200
    settle(site.instance)
    assert keys(find(asha, "mombasa")) == [sent["event_id"]]
    assert find(asha, "zanzibar")["total"] == 0


def test_leaving_a_room_leaves_its_messages(site: ChatSite) -> None:
    asha, chand = site["asha"], site["chand"]
    room = group(asha, "leaving", chand)
    asha.send(room, "timbuktu briefing")
    settle(site.instance)
    assert find(chand, "timbuktu")["total"] == 1
    assert chand.post(f"/api/v1/chat/rooms/{room}/leave").status_code == 204
    assert find(chand, "timbuktu") | {"users": {}} == {
        "total": 0, "total_exact": True, "offset": 0, "limit": 20, "hits": [], "users": {},
    }  # fmt: skip


def test_filters_by_room_sender_and_ist_time(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    first = group(asha, "filters one", bala)
    second = group(asha, "filters two", bala)
    a = asha.send(first, "patrol ouagadougou night")
    b = bala.send(first, "patrol ouagadougou day")
    c = asha.send(second, "patrol ouagadougou noon")
    settle(site.instance)
    assert sorted(keys(find(bala, "ouagadougou"))) == sorted(
        [a["event_id"], b["event_id"], c["event_id"]]
    )
    assert sorted(keys(find(bala, "ouagadougou", room=first))) == sorted(
        [a["event_id"], b["event_id"]]
    )
    assert keys(find(asha, "ouagadougou", room=first, sender="bala")) == [b["event_id"]]
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    today = dt.datetime.now(ist).date()
    assert find(bala, "ouagadougou", **{"from": today.isoformat()})["total"] == 3
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert find(bala, "ouagadougou", **{"from": tomorrow})["total"] == 0
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert find(bala, "ouagadougou", to=yesterday)["total"] == 0
    assert find(bala, "ouagadougou", to=today.isoformat())["total"] == 3


def test_bad_input_is_a_clear_error_and_searches_are_audited(site: ChatSite) -> None:
    bala = site["bala"]
    bad_date = bala.get("/api/v1/chat/search", params={"q": "x", "from": "yesterday"})
    assert bad_date.status_code == 422 and bad_date.json()["code"] == "search_date"
    nobody = bala.get("/api/v1/chat/search", params={"q": "x", "sender": "no.such.user"})
    assert nobody.status_code == 422 and nobody.json()["code"] == "search_filter"
    syntax = bala.get("/api/v1/chat/search", params={"q": "OR"})
    assert syntax.status_code == 422
    find(bala, "audited-word")
    with site.instance.sessions() as session:
        last = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "chat.search")
            .order_by(AuditRecord.id.desc())
        ).first()
    assert last is not None and last.actor_id == str(bala.user_id)
    assert "audited-word" in str(last.detail)


def test_a_rebuild_indexes_every_message_as_it_is(site: ChatSite) -> None:
    from polaris.search.messages import reindex_messages

    asha, bala = site["asha"], site["bala"]
    room = group(asha, "rebuild", bala)
    kept = asha.send(room, "rebuild kathmandu")
    gone = asha.send(room, "rebuild kathmandu deleted")
    assert delete(asha, gone["event_id"]).status_code == 200
    settle(site.instance)
    message_engine_of(site.instance).clear()
    assert find(bala, "kathmandu")["total"] == 0
    assert reindex_messages(site.instance) >= 1
    assert keys(find(bala, "kathmandu")) == [kept["event_id"]]


def test_an_empty_index_beside_messages_is_rebuilt_by_a_job(site: ChatSite) -> None:
    from polaris.search.messages import ensure_current

    asha, bala = site["asha"], site["bala"]
    room = group(asha, "upgrade", bala)
    sent = asha.send(room, "upgrade reykjavik")
    settle(site.instance)
    message_engine_of(site.instance).clear()
    assert ensure_current(site.instance) is True
    settle(site.instance)
    assert keys(find(bala, "reykjavik")) == [sent["event_id"]]
    assert ensure_current(site.instance) is False


def test_a_batch_of_messages_is_one_index_job_and_an_older_job_of_one_still_runs(
    site: ChatSite,
) -> None:
    """A job names the messages of a runner's batch (``search.messages.request_indexes``), up
    to 100 a job; the same messages asked for again while their job is queued are that job; a
    job queued before jobs named several (``event_id``) still indexes its message."""
    from polaris import events, jobs
    from polaris.jobs.models import Job
    from polaris.search.messages import JOB, request_indexes

    asha, bala = site["asha"], site["bala"]
    room = group(asha, "batched", bala)
    settle(site.instance)
    sent = [asha.send(room, f"batched lalitpur {n}") for n in range(3)]
    events.drain(site.instance.sessions)  # the consumer's batch, not the jobs
    with site.instance.sessions() as session:
        queued = session.scalars(
            select(Job).where(Job.kind == JOB, Job.status == jobs.JobStatus.QUEUED)
        ).all()
        assert len(queued) == 1
        ids = queued[0].payload["event_ids"]
        assert len(ids) == 3
        request_indexes(session, list(reversed(ids)))  # asked for again while queued: that job
        jobs.enqueue(session, kind=JOB, payload={"event_id": ids[0]}, key=f"{JOB}:old")
        session.commit()
        waiting = select(func.count()).select_from(Job).where(Job.kind == JOB, Job.key.is_not(None))
        assert session.scalar(waiting) == 2
        request_indexes(session, list(range(10**9, 10**9 + 250)))  # 100 a job
        session.commit()
        assert session.scalar(waiting) == 5
    settle(site.instance)
    assert sorted(keys(find(bala, "lalitpur"))) == sorted(m["event_id"] for m in sent)
    with site.instance.sessions() as session:
        done = session.scalars(select(Job).where(Job.kind == JOB, Job.key.is_(None))).all()
        assert {job.status for job in done} == {jobs.JobStatus.DONE}
