"""``settle``: event passes and jobs, alternately, until neither has work: a change's whole chain
(upload -> text job -> text stored -> index job) is done when it returns."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris import events
from polaris.events import consumers
from polaris.handlers import settle
from polaris.jobs.models import Job, JobStatus
from tests.drive.conftest import Drive, drive

__all__ = ["drive"]  # the drive tests' fixture: an app over a real instance


def test_settle_runs_the_chain_a_change_starts(drive: Drive) -> None:
    file = drive.upload("hc.a1", drive.root("hc.a1"), "diary.txt", "दैनिक डायरी".encode())["id"]
    handed, ran = settle(drive.instance)
    assert handed > 0 and ran >= 3  # the text, then the index twice (the upload, the text)
    with drive.instance.sessions() as session:
        found = list(session.scalars(select(Job).order_by(Job.id)))
        kinds = [job.kind for job in found]
        [text] = [job for job in found if job.kind == "ingest.text"]
        after_text = [
            job
            for job in found
            if job.kind == "search.index" and job.id > text.id and job.subject_id == file
        ]
    assert after_text and all(job.status == JobStatus.DONE for job in found), kinds
    assert settle(drive.instance) == (0, 0)


def test_a_failing_consumer_is_raised_or_left_behind(drive: Drive) -> None:
    saved = dict(consumers._CONSUMERS)

    @events.consumer("test.broken", kinds=["node.created"])
    def broken(session: Session, batch: Sequence[events.Event]) -> None:
        raise RuntimeError("the index is unreachable")

    try:
        drive.folder("hc.a1", drive.root("hc.a1"), "Cases")
        with pytest.raises(RuntimeError, match="unreachable"):
            settle(drive.instance)
        # It returns; what the others had left (the events a consumer appended in the pass that
        # raised, e.g. chat's unit channels) is handed over now, and then nothing is left.
        settle(drive.instance, raise_errors=False)
        handed, _ = settle(drive.instance, raise_errors=False)
        assert handed == 0
        with drive.instance.sessions() as session:
            [status] = [
                c for c in events.stream_status(session).consumers if c.name == "test.broken"
            ]
        assert (
            status.position == 0
            and status.lag
            and status.error == "RuntimeError: the index is unreachable"
        )
    finally:
        consumers._CONSUMERS.clear()
        consumers._CONSUMERS.update(saved)
