"""Ingest's consumer: a recorded version gets its previews and text jobs (once, however often its
events are handed over); a version purged before the consumer came gets none, without failing."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from polaris import events
from polaris.db.uow import unit_of_work
from polaris.events.models import DomainEvent
from polaris.handlers import load_consumers, settle
from polaris.ingest.consumers import follow_versions
from polaris.ingest.models import Rendition
from polaris.jobs.models import Job
from tests.drive.conftest import Drive, drive
from tests.support.events import EventLog

__all__ = ["drive"]  # the drive tests' fixture: an app over a real instance

API = "/api/v1"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "blue").save(out, format="PNG")
    return out.getvalue()


def derivation_jobs(drive: Drive) -> list[tuple[str, int]]:
    with drive.instance.sessions() as session:
        found = session.scalars(
            select(Job).where(Job.kind.in_(["ingest.previews", "ingest.text"])).order_by(Job.id)
        )
        return [(job.kind, job.payload["version_id"]) for job in found]


def version_of(drive: Drive, node_id: int) -> int:
    response = drive.get("hc.a1", f"{API}/files/{node_id}/versions")
    return int(response.json()[0]["id"])


def test_a_new_version_gets_its_previews_and_text_asked_for_once(drive: Drive) -> None:
    load_consumers()
    file = drive.upload("hc.a1", drive.root("hc.a1"), "scene.png", png())["id"]
    version = version_of(drive, file)
    assert derivation_jobs(drive) == []  # the upload only appended its events
    events.drain(drive.instance.sessions)
    assert derivation_jobs(drive) == [("ingest.previews", version), ("ingest.text", version)]

    with drive.instance.sessions() as session:
        batch = events.since(session, after=0, limit=1000)
    with unit_of_work(drive.instance.sessions) as session:
        follow_versions(session, batch)  # handed over again (its cursor's advance was lost)
    assert len(derivation_jobs(drive)) == 2  # the keyed jobs still wait: no new ones


def test_a_version_purged_before_the_consumer_came_is_passed_over(drive: Drive) -> None:
    load_consumers()
    file = drive.upload("hc.a1", drive.root("hc.a1"), "scene.png", png())["id"]
    assert drive.delete("hc.a1", f"{API}/nodes/{file}").status_code == 204
    assert drive.delete("admin", f"{API}/admin/nodes/{file}").status_code == 204
    handed, _ = settle(drive.instance)
    assert handed > 0
    assert derivation_jobs(drive) == []
    with drive.instance.sessions() as session:
        assert list(session.scalars(select(Rendition.id))) == []


def test_stored_text_appends_its_event(drive: Drive) -> None:
    space = drive.space("hc.a1")["id"]
    file = drive.upload("hc.a1", drive.root("hc.a1"), "diary.txt", "दैनिक डायरी".encode())["id"]
    version = version_of(drive, file)
    log = EventLog(drive.instance.sessions)
    settle(drive.instance)
    assert log.take("version.") == [
        ("version.text_stored", ("version", version), space, {"node_id": file})
    ]
    with drive.instance.sessions() as session:
        actor = session.scalar(
            select(DomainEvent.actor_id).where(DomainEvent.kind == "version.text_stored")
        )
    assert actor is None  # the text job acts for no one
