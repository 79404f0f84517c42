"""The drive's own consumer of the change stream: a reconcile check of the spaces' usage.

Quota is enforced in the write's transaction, never here: ``repo.reserve_bytes`` adds a version's
bytes to ``space.used_bytes`` with one conditional UPDATE, so two uploads cannot both slip under
the quota. A consumer runs after the commit and could only ever refuse too late.

What a consumer can do is check the figure that enforcement relies on. ``used_bytes`` is a running
total kept by every write (an upload, a restored version, a copy, a move between spaces, a purge);
it must equal the bytes of every version of every file in the space. A code path that forgot to
reserve or release, a transaction that reserved twice, a hand edit of the database: each would
make the total drift, and a drifted total either refuses uploads that fit or lets a space grow past
its quota. After the bulk changes (moves, copies, purges) this consumer recounts each space they
touched, under the space row's lock (so no upload reserves between the count and the figure), and
puts the figure right, with a warning in the log naming the space and both numbers.

It does not recount after every upload: a count reads every version of the space, and uploads come
by the thousand in an import; they reserve their own bytes in the simplest way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from polaris import events
from polaris.config import settings_of
from polaris.drive import events as drive_events
from polaris.drive import repo, scanning
from polaris.drive.models import FileVersion

log = logging.getLogger("polaris.drive")

CONSUMER = "drive.usage"


@events.consumer(
    CONSUMER,
    kinds=[drive_events.NODE_MOVED, drive_events.NODE_COPIED, drive_events.NODE_PURGED],
)
def reconcile_usage(session: Session, batch: Sequence[events.Event]) -> None:
    """Recount the usage of each space the batch's moves, copies and purges touched."""
    touched: set[int] = set()
    for event in batch:
        for space_id in (event.space_id, event.data.get("from_space_id")):
            if isinstance(space_id, int):
                touched.add(space_id)
    for space_id in sorted(touched):  # one lock order for every node that runs this
        reconcile_space(session, space_id)


def reconcile_space(session: Session, space_id: int) -> int:
    """Set a space's usage to the bytes its versions hold; the drift put right (0 if none)."""
    recorded = repo.lock_space_usage(session, space_id)
    if recorded is None:
        return 0
    actual = repo.space_content_bytes(session, space_id)
    if actual == recorded:
        return 0
    log.warning(
        "space %s recorded %s bytes in use but holds %s: usage corrected",
        space_id,
        recorded,
        actual,
    )
    repo.set_used_bytes(session, space_id, actual)
    return actual - recorded


SCAN_CONSUMER = "drive.malware_scan"


@events.consumer(SCAN_CONSUMER, kinds=[drive_events.VERSION_ADDED, drive_events.VERSION_RESTORED])
def scan_versions(session: Session, batch: Sequence[events.Event]) -> None:
    """Queue the malware scan of each new version's content (``drive.scanning``).

    Only while scanning is on for this instance (``scan.active``; the settings come with the
    instance's sessions): a version recorded while it is off is never held. Runs in the
    transaction that moves the cursor, so each content is recorded ``pending`` and its job queued
    exactly once, before anyone but its uploader could have been served the file by a rule that
    knew of the scan.
    """
    settings = settings_of(session.info)
    if settings is None or not settings.scan.active:
        return
    for event in batch:
        version = session.get(FileVersion, event.subject_id)
        if version is None:
            continue  # purged since
        scanning.request_scan(session, version=version, max_attempts=settings.scan.max_attempts)
