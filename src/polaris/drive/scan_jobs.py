"""The malware scan job. Importing this module registers its handler (``polaris.handlers``).

The job streams the content to clamd (``polaris.malware``) outside any transaction and records
the verdict in a short one. What happens when clamd cannot answer is ``scan.when_unavailable``:
``hold`` raises, so the queue retries with its backoff, and the last attempt records ``error``
(the content stays held, listed for administrators); ``pass`` records ``passed`` with the reason.
Content larger than ``scan.max_bytes`` is judged on its first ``max_bytes``: a signature found
there quarantines it, none found records ``passed`` with that detail (docs/resilience.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from polaris import jobs, malware
from polaris.drive import scanning
from polaris.drive.models import FileVersion
from polaris.storage.refs import ContentRef


@jobs.handler(scanning.SCAN_JOB)
def scan_content(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    sha256 = str(payload["sha256"])
    settings = context.instance.settings.scan
    with context.session() as session:
        scan = scanning.scan_of(session, sha256)
        if scan is None or scan.state not in (scanning.PENDING, scanning.ERROR):
            return {"skipped": "already judged" if scan else "no longer recorded"}
        version = (
            session.get(FileVersion, int(payload["version_id"]))
            or session.scalars(
                select(FileVersion).where(FileVersion.sha256 == sha256).limit(1)
            ).first()
        )
        if version is None:
            raise jobs.PermanentError("no version holds this content any more")
        content = ContentRef.from_dict(version.content)
    try:
        if settings.clamd is None:
            raise malware.ScannerUnavailable("no clamd address is configured (scan.clamd)")
        verdict = malware.scan_stream(
            settings.clamd,
            context.instance.blobs.open_stream(content),
            limit=settings.max_bytes,
            timeout=settings.timeout_seconds,
        )
    except malware.ScannerUnavailable as error:
        return _unavailable(context, sha256, str(error), settings.when_unavailable)
    if verdict.infected:
        state, detail = scanning.INFECTED, None
    elif verdict.complete:
        state, detail = scanning.CLEAN, None
    else:
        state = scanning.PASSED
        detail = (
            f"larger than the scan limit: only the first {verdict.scanned_bytes} of "
            f"{content.size} bytes were scanned, and no malware was found in them"
        )
    with context.session() as session:
        scanning.record_verdict(
            session, sha256=sha256, state=state, signature=verdict.signature, detail=detail
        )
    return {"state": state, "signature": verdict.signature, "scanned": verdict.scanned_bytes}


def _unavailable(
    context: jobs.JobContext, sha256: str, reason: str, when_unavailable: str
) -> dict[str, Any]:
    if when_unavailable == "pass":
        with context.session() as session:
            scanning.record_verdict(
                session, sha256=sha256, state=scanning.PASSED, detail=f"not scanned: {reason}"
            )
        return {"state": scanning.PASSED, "reason": reason}
    if context.attempt >= context.max_attempts:
        with context.session() as session:
            scanning.record_verdict(
                session, sha256=sha256, state=scanning.ERROR, detail=f"not scanned: {reason}"
            )
        raise jobs.PermanentError(f"held: {reason}")
    raise malware.ScannerUnavailable(reason)  # retried after the queue's backoff
