"""The drive's placement records (``drive.placements``): each change of a node's place or level
leaves its newest record in the store, a purge a tombstone, a creation of a file none (its
manifest says where it is), and a batch handed over twice nothing new."""

from __future__ import annotations

import shutil

from sqlalchemy import select

from polaris import events, jobs
from polaris.drive import placements
from polaris.handlers import load_consumers, settle
from polaris.jobs.models import Job
from polaris.storage import names
from polaris.storage.placement import Placement
from tests.drive.conftest import Drive

API = "/api/v1"


def drained(drive: Drive) -> None:
    """The consumer queues its jobs; the jobs write the records (and the rest follows)."""
    settle(drive.instance)


def latest(drive: Drive, node_id: int) -> Placement:
    found = drive.instance.blobs.latest_placement(node_id)
    assert found is not None
    return found


def all_records(drive: Drive) -> list[str]:
    return sorted(drive.instance.blobs.backend.list(names.PLACEMENTS))


def test_each_change_of_place_leaves_the_nodes_newest_record(drive: Drive) -> None:
    root = drive.root("sho.a1", "unit")
    cases = drive.folder("sho.a1", root, "केस")["id"]
    year = drive.folder("sho.a1", cases, "2025")["id"]
    file = drive.upload("sho.a1", year, "fir.txt", b"first")["id"]
    drained(drive)
    # Folders are recorded when made; a new file is not (its manifest places it).
    assert drive.instance.blobs.latest_placement(file) is None
    assert latest(drive, year).path == "/केस/2025" and latest(drive, year).kind == "folder"
    assert drive.patch("sho.a1", f"{API}/nodes/{file}", json={"name": "प्राथमिकी.txt"}).is_success
    assert drive.patch("sho.a1", f"{API}/nodes/{file}", json={"parent_id": cases}).is_success
    assert drive.patch("sho.a1", f"{API}/nodes/{year}", json={"name": "वर्ष"}).is_success
    drained(drive)
    record = latest(drive, file)
    assert (record.name, record.parent_id, record.path) == (
        "प्राथमिकी.txt",
        cases,
        "/केस/प्राथमिकी.txt",
    )
    assert record.space is not None and record.space.root_id == root and record.space.kind == "unit"
    assert record.trashed_at is None and record.classification == "unclassified"
    assert latest(drive, year).name == "वर्ष"
    assert drive.delete("sho.a1", f"{API}/nodes/{file}").status_code == 204
    drained(drive)
    assert latest(drive, file).trashed_at is not None
    assert drive.post("sho.a1", f"{API}/nodes/{file}/restore").is_success
    drained(drive)
    assert latest(drive, file).trashed_at is None


def test_a_purge_leaves_a_tombstone_for_every_node_it_took(drive: Drive) -> None:
    root = drive.root("sho.a1", "unit")
    folder = drive.folder("sho.a1", root, "old")["id"]
    inside = drive.upload("sho.a1", folder, "a.txt", b"a")["id"]
    assert drive.delete("sho.a1", f"{API}/nodes/{folder}").status_code == 204
    assert drive.delete("admin", f"{API}/admin/nodes/{folder}").status_code == 204
    drained(drive)
    for node_id in (folder, inside):
        assert latest(drive, node_id).purged


def test_a_copied_tree_has_its_folders_recorded(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "Cases")["id"]
    drive.folder("hc.a1", folder, "empty")
    copy = drive.post("hc.a1", f"{API}/nodes/{folder}/copy", json={"parent_id": root,
                                                                  "name": "Copy"})  # fmt: skip
    assert copy.status_code == 201, copy.text
    drained(drive)
    assert latest(drive, copy.json()["id"]).path == "/Copy"
    paths = {p.path for p in drive.instance.blobs.iter_latest_placements()}
    assert {"/Cases", "/Cases/empty", "/Copy", "/Copy/empty"} <= paths


def test_a_batch_handed_over_again_writes_nothing_new(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "Cases")["id"]
    assert drive.patch("hc.a1", f"{API}/nodes/{folder}", json={"name": "केस"}).is_success
    drained(drive)
    before = all_records(drive)
    with drive.instance.sessions() as session:
        batch = events.since(session, after=0, kinds=placements.KINDS)
        placements.record_placements(session, batch)
        placements.record_placements(session, batch)
        session.commit()
        queued = session.scalars(
            select(Job).where(Job.kind == placements.JOB, Job.status == "queued")
        ).all()
    assert len(queued) == 2  # one job per batch handed over
    drained(drive)
    assert all_records(drive) == before
    with drive.instance.sessions() as session:
        assert placements.record_every_node(session, drive.instance.blobs) == 0
    # A store written before placement records: every node but the roots gets one.
    shutil.rmtree(drive.instance.blobs.backend.root / "data" / "placements")  # type: ignore[attr-defined]
    drive.upload("hc.a1", folder, "a.txt", b"a")
    with drive.instance.sessions() as session:
        assert placements.record_every_node(session, drive.instance.blobs) == 2
    assert latest(drive, folder).name == "केस"


def test_jobs_run_out_of_order_leave_the_newest_state(drive: Drive) -> None:
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "Cases")["id"]
    assert drive.patch("hc.a1", f"{API}/nodes/{folder}", json={"name": "one"}).is_success
    assert drive.patch("hc.a1", f"{API}/nodes/{folder}", json={"name": "two"}).is_success
    load_consumers()
    events.drain(drive.instance.sessions)  # the jobs are queued, not run
    with drive.instance.sessions() as session:
        found = session.scalars(select(Job).where(Job.kind == placements.JOB)).all()
        payloads = [job.payload for job in found]
    [payload] = payloads  # one batch: the node once, at the later position
    [[node_id, position]] = payload["nodes"]
    assert node_id == folder
    late = {"nodes": [[folder, position - 1]], "purged": []}  # an older event's job, run last
    context = jobs.JobContext(instance=drive.instance, job_id=0, attempt=1, worker="test")
    assert placements.write_records(context, payload)["written"] == 1
    assert placements.write_records(context, late)["written"] == 0
    assert placements.write_records(context, payload)["written"] == 0
    assert latest(drive, folder).name == "two" and latest(drive, folder).generation == position
