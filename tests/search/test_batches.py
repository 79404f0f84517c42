"""Index jobs run in passes: many uploads, one commit; a bad job or document fails alone; a pass
reads one snapshot (a later trashing wins); a crash between the engine's commit and the queue's
record runs the pass again without doubling an entry (docs/search.md, "Indexing in passes")."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from polaris import events, jobs
from polaris.handlers import load_consumers, load_job_handlers
from polaris.jobs import service as job_service
from polaris.jobs.models import Job, JobStatus
from polaris.search.indexing import engine_of
from polaris.search.interface import SearchEngine, SearchQuery, Visibility
from polaris.search.requests import INDEX_JOB
from polaris.search.tantivy_engine import TantivySearchEngine
from tests.drive.conftest import Drive, drive
from tests.search.test_engines import EVERYTHING, doc
from tests.support.statements import counting

__all__ = ["drive"]  # the drive tests' fixture: an app over a real instance

QUERIES = ["report", "alpha", '"district report"', "rep*", ""]


def found(search: SearchEngine, text: str) -> tuple[int, ...]:
    return search.matches(SearchQuery(text=text), EVERYTHING, 1100).node_ids


# --- the engines: one write, one commit -----------------------------------------------------


def test_a_batch_is_one_commit_and_finds_what_upserts_one_by_one_find(
    search: SearchEngine,
) -> None:
    documents = [
        doc(n, f"district report {n} {'alpha' if n % 3 else 'beta'}") for n in range(1, 41)
    ]
    search.write(documents[:1], [])
    before = search.commits  # type: ignore[attr-defined]
    assert search.write(documents, [1]) == {}  # node 1 is in both: it is indexed
    assert search.commits == before + 1  # type: ignore[attr-defined]
    batched = {query: found(search, query) for query in QUERIES}
    search.clear()
    for document in documents:
        search.upsert([document])
    assert {query: found(search, query) for query in QUERIES} == batched
    assert len(batched["report"]) == 40


def test_a_write_removes_and_adds_at_once(search: SearchEngine) -> None:
    search.upsert([doc(1, "old report"), doc(2, "second report")])
    search.write([doc(1, "new report"), doc(3, "third report")], [2, 99])
    assert set(found(search, "report")) == {1, 3}
    assert found(search, "old") == ()
    assert search.count() == 2


def test_a_document_the_engine_refuses_fails_alone(search: SearchEngine) -> None:
    search.upsert([doc(2, "kept report")])
    # Tantivy takes no negative id into an unsigned field; PostgreSQL no NUL in text.
    refused = doc(2, "bad\x00report", owner_id=-1)
    rejected = search.write([doc(1, "good report"), refused, doc(3, "also report")], [])
    assert list(rejected) == [2] and rejected[2]
    assert set(found(search, "report")) == {1, 2, 3}
    assert search.stored([2])[2].text == "kept report"  # the old entry is untouched


def test_writing_the_same_batch_twice_changes_nothing(search: SearchEngine) -> None:
    documents = [doc(n, f"report {n}") for n in range(1, 21)]
    search.write(documents, [50])
    first = {query: found(search, query) for query in QUERIES}
    search.write(documents, [50])
    assert {query: found(search, query) for query in QUERIES} == first
    assert search.count() == 20


# --- the index jobs: passes over the queue ----------------------------------------------------


def queue(drive: Drive) -> None:
    """Hand the change stream to its consumers: the index jobs are queued, none has run."""
    load_job_handlers()
    load_consumers()
    events.drain(drive.instance.sessions)


def index_jobs(drive: Drive) -> list[Job]:
    with drive.instance.sessions() as session:
        return list(session.scalars(select(Job).where(Job.kind == INDEX_JOB).order_by(Job.id)))


def run_index_jobs(drive: Drive) -> int:
    """Run the due jobs; how many index commits they made."""
    engine = tantivy_of(drive)
    before = engine.commits
    jobs.run_pending(drive.instance)
    return engine.commits - before


def tantivy_of(drive: Drive) -> TantivySearchEngine:
    engine = engine_of(drive.instance)
    assert isinstance(engine, TantivySearchEngine)
    return engine


def uploads(drive: Drive, count: int) -> list[int]:
    folder = drive.folder("hc.a1", drive.root("hc.a1"), "Uploads")["id"]
    return [
        int(drive.upload("hc.a1", folder, f"case {n}.bin", b"\x00\x01" * 8)["id"])
        for n in range(count)
    ]


def visible(drive: Drive) -> Visibility:
    space = int(drive.space("hc.a1")["id"])  # type: ignore[call-overload]
    return Visibility(frozenset({space}), frozenset(), max_classification=3)


def names(drive: Drive, text: str) -> tuple[int, ...]:
    matches = engine_of(drive.instance).matches(SearchQuery(text=text), visible(drive), 1100)
    return matches.node_ids


def test_many_uploads_are_indexed_with_one_commit(drive: Drive) -> None:
    files = uploads(drive, 30)
    queue(drive)
    assert len([job for job in index_jobs(drive) if job.status == JobStatus.QUEUED]) == 31
    assert run_index_jobs(drive) == 1
    assert {job.status for job in index_jobs(drive)} == {JobStatus.DONE}
    assert sorted(names(drive, "case")) == sorted(files)


def test_a_pass_finds_its_nodes_in_a_few_queries_however_many_jobs(drive: Drive) -> None:
    files = uploads(drive, 30)
    queue(drive)
    with counting(drive.instance.engine) as tally:
        assert run_index_jobs(drive) == 1
    # Once two queries a job (``locate``): now the pass's nodes, the nodes on their paths,
    # their spaces and shares, a few queries in all.
    node_reads = [s for s in tally.statements if s.startswith("SELECT") and "FROM node" in s]
    assert len(node_reads) <= 4, node_reads
    assert sorted(names(drive, "case")) == sorted(files)


def test_a_failing_job_fails_alone_with_its_reason(drive: Drive) -> None:
    files = uploads(drive, 5)
    queue(drive)
    with drive.instance.sessions() as session, session.begin():
        jobs.enqueue(session, kind=INDEX_JOB, payload={"node_id": "twelve", "subtree": False})
    assert run_index_jobs(drive) == 1
    by_status = {job.id: (job.status, job.error) for job in index_jobs(drive)}
    failed = [error for status, error in by_status.values() if status == JobStatus.FAILED]
    assert len(failed) == 1 and failed[0] is not None and "twelve" in failed[0]
    assert sorted(names(drive, "case")) == sorted(files)


def test_a_trashing_after_the_upload_wins_in_the_same_pass(drive: Drive) -> None:
    kept, trashed = uploads(drive, 2)
    queue(drive)  # both files' index jobs
    response = drive.delete("hc.a1", f"/api/v1/nodes/{trashed}")
    assert response.status_code in (200, 204), response.text
    queue(drive)  # the trashing's job, in the same queue
    assert run_index_jobs(drive) == 1
    assert names(drive, "case") == (kept,)
    restored = drive.post("hc.a1", f"/api/v1/nodes/{trashed}/restore")
    assert restored.status_code in (200, 204), restored.text
    queue(drive)
    run_index_jobs(drive)
    assert sorted(names(drive, "case")) == sorted([kept, trashed])


def test_a_crash_between_commit_and_record_indexes_each_upload_once(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = uploads(drive, 10)
    queue(drive)

    def crash(*args: object) -> None:
        raise SystemExit("the worker died after the commit")

    with monkeypatch.context() as patched:
        patched.setattr(job_service, "_record_batch", crash)
        with pytest.raises(SystemExit):
            run_index_jobs(drive)
    assert tantivy_of(drive).count() == 11  # folder and files committed; the queue does not know
    assert {job.status for job in index_jobs(drive)} == {JobStatus.RUNNING}
    with drive.instance.sessions() as session, session.begin():  # the leases run out
        session.execute(
            update(Job)
            .where(Job.kind == INDEX_JOB)
            .values(lease_until=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        )
    assert run_index_jobs(drive) == 1
    assert {job.status for job in index_jobs(drive)} == {JobStatus.DONE}
    assert tantivy_of(drive).count() == 11
    assert sorted(names(drive, "case")) == sorted(files)


def test_the_pass_holds_a_bounded_text(drive: Drive, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``PASS_TEXT_BYTES`` a pass commits what it holds and goes on."""
    monkeypatch.setattr("polaris.search.indexing.PASS_TEXT_BYTES", 30)
    files = uploads(drive, 6)  # the folder (7 bytes) and 3 names (10 each), then 3 more
    queue(drive)
    assert run_index_jobs(drive) == 2
    assert sorted(names(drive, "case")) == sorted(files)
