"""A batch handler's outcomes are recorded per job in one transaction (``jobs.repo
.update_claimed_many``): done with its result, failed for good, retried later, a job the
handler left out failed; a job whose claim was taken over meanwhile is left to its new owner."""

from __future__ import annotations

from collections.abc import Sequence

from polaris import jobs
from polaris.instance import Instance
from polaris.jobs.models import JobStatus
from tests.jobs.test_queue import change, enqueue, load

KIND = "test.outcomes"
VERDICTS: dict[str, str] = {}


@jobs.batch_handler(KIND, size=10)
def judged(instance: Instance, batch: Sequence[jobs.BatchJob]) -> jobs.BatchOutcome:
    outcomes: jobs.BatchOutcome = {}
    for job in batch:
        name = str(job.payload["name"])
        verdict = VERDICTS.get(name, "done")
        if verdict == "steal":  # another worker's claim now (its lease ran out and was taken)
            change(instance, job.job_id, worker="someone-else")
            outcomes[job.job_id] = {"ok": name}
        elif verdict == "done":
            outcomes[job.job_id] = {"ok": name, "नाम": "प्राथमिकी"}
        elif verdict == "fail":
            outcomes[job.job_id] = jobs.JobFailure("bad scan", permanent=True)
        elif verdict == "retry":
            outcomes[job.job_id] = jobs.JobFailure("index busy")
        # "omit": left out of the outcomes
    return outcomes


def test_each_outcome_is_recorded_for_its_own_job(instance: Instance) -> None:
    VERDICTS.clear()
    VERDICTS.update(
        {"b": "fail", "c": "retry", "d": "omit", "e": "steal", "f": "done", "g": "retry"}
    )
    ids = {
        name: enqueue(instance, KIND, {"name": name}, key=f"{KIND}:{name}") for name in "abcdefg"
    }
    assert jobs.run_pending(instance) >= 1
    found = {name: load(instance, job_id) for name, job_id in ids.items()}
    for name in "af":
        assert found[name].status == JobStatus.DONE
        assert found[name].result == {"ok": name, "नाम": "प्राथमिकी"}
        assert found[name].finished_at is not None and found[name].lease_until is None
    assert found["b"].status == JobStatus.FAILED and found["b"].error == "bad scan"
    assert found["b"].finished_at is not None
    for name in "cg":
        assert found[name].status == JobStatus.QUEUED and found[name].error == "index busy"
        assert found[name].finished_at is None and found[name].run_after is not None
    assert found["d"].status == JobStatus.QUEUED  # retried: "the batch handler left it out"
    assert found["d"].error == "the batch handler left it out"
    # Taken over: the first worker's outcome does not touch it.
    assert found["e"].status == JobStatus.RUNNING and found["e"].worker == "someone-else"
    assert found["e"].result is None
