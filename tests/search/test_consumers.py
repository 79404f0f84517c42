"""The search consumer turns drive and ingest events into keyed index jobs: the node, its subtree
or its removal, as docs/events.md says; a batch handed over twice queues nothing twice."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from polaris import events
from polaris.db.uow import unit_of_work
from polaris.handlers import load_consumers
from polaris.ingest import text_service
from polaris.jobs.models import Job
from polaris.search.consumers import follow_changes
from tests.drive.conftest import Drive, drive

__all__ = ["drive"]  # the drive tests' fixture: an app over a real instance

API = "/api/v1"


class IndexJobs:
    """The ``search.index`` jobs queued since the last look; looking claims them (clears their
    keys, as a worker does), so that the next change asks for a new job."""

    def __init__(self, drive: Drive) -> None:
        self.drive = drive
        self.after = 0
        self.take()

    def take(self) -> list[Any]:
        load_consumers()
        events.drain(self.drive.instance.sessions)
        with self.drive.instance.sessions() as session, session.begin():
            found = list(
                session.scalars(
                    select(Job)
                    .where(Job.kind == "search.index", Job.id > self.after)
                    .order_by(Job.id)
                )
            )
            for job in found:
                job.key = None
        if found:
            self.after = found[-1].id
        return [
            ("remove", job.payload["remove"])
            if "remove" in job.payload
            else (job.payload["node_id"], job.payload["subtree"])
            for job in found
        ]


def test_each_change_asks_for_the_node_its_subtree_or_its_removal(drive: Drive) -> None:
    root = drive.root("hc.a1")
    queued = IndexJobs(drive)
    folder = drive.folder("hc.a1", root, "Cases")["id"]
    assert queued.take() == [(folder, False)]
    file = drive.upload("hc.a1", folder, "fir.txt", b"FIR")["id"]
    assert queued.take() == [(file, False)]  # node.created and version.added: one job
    elsewhere = drive.folder("hc.a1", root, "Elsewhere")["id"]
    assert queued.take() == [(elsewhere, False)]
    steps: list[tuple[str, str, dict[str, Any], list[Any]]] = [
        ("patch", f"/nodes/{file}", {"name": "FIR 1.txt"}, [(file, False)]),
        ("patch", f"/nodes/{folder}", {"classification": "restricted"}, [(folder, True)]),
        ("patch", f"/nodes/{folder}", {"parent_id": elsewhere}, [(folder, True)]),
        ("delete", f"/nodes/{folder}", {}, [(folder, True)]),
        ("post", f"/nodes/{folder}/restore", {}, [(folder, True)]),
    ]
    for method, path, body, expected in steps:
        response = getattr(drive, method)("hc.a1", API + path, **({"json": body} if body else {}))
        assert response.status_code in (200, 204), response.text
        found = queued.take()
        assert found == expected, path
    copy = drive.post("hc.a1", f"{API}/nodes/{folder}/copy", json={"parent_id": root}).json()
    [copied_file] = [
        item["id"]
        for item in drive.get("hc.a1", f"{API}/nodes/{copy['id']}/children").json()["items"]
    ]
    assert queued.take() == [(copy["id"], True), (copied_file, False)]
    assert drive.delete("hc.a1", f"{API}/nodes/{folder}").status_code == 204
    queued.take()
    assert drive.delete("admin", f"{API}/admin/nodes/{folder}").status_code == 204
    assert queued.take() == [("remove", [folder, file])]


def test_text_stored_asks_for_its_node(drive: Drive) -> None:
    file = drive.upload("hc.a1", drive.root("hc.a1"), "a.txt", b"a")["id"]
    queued = IndexJobs(drive)  # the upload's job, claimed
    with unit_of_work(drive.instance.sessions) as session:
        version_id = session.scalar(select(Job.subject_id).where(Job.kind == "ingest.text"))
        assert version_id is not None
        text_service.on_text_stored(session, version_id)
    assert queued.take() == [(file, False)]


def test_a_batch_handed_over_again_queues_nothing_more(drive: Drive) -> None:
    drive.upload("hc.a1", drive.root("hc.a1"), "a.txt", b"a")
    events.drain(drive.instance.sessions)  # sequences the upload's events, queues its job
    with drive.instance.sessions() as session:
        batch = events.since(session, after=0, limit=1000)
        before = session.scalar(select(func.count()).select_from(Job))
    with unit_of_work(drive.instance.sessions) as session:
        follow_changes(session, batch)  # as after a crash that lost the cursor's advance
        follow_changes(session, batch)
    with drive.instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == before
