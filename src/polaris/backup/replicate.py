"""Blob replication: every object of the store, copied as it is to the backup target.

Objects are sealed (docs/storage-format.md §4) and immutable, so a copy is the same bytes, never
re-encrypted, and never needs updating: the target is written with the backend's create-only
``put`` and nothing here deletes, so garbage collection on the store never reaches the backup.

"Continuous" is a loop of passes (``polaris backup run``), each one listing the store:

* an **incremental** pass looks only at objects modified since the previous complete pass began
  (less ``overlap_seconds``: an object becomes visible a little after its file's modification
  time, and an S3 store's clock is not ours) and copies those the target lacks. It reads the
  store's listing, but asks the target about the few new objects only.
* a **full** pass, every ``full_pass_hours`` and whenever there is no watermark, walks the
  store's and the target's listings side by side (both in name order) and copies whatever the
  target lacks, whatever its age. It also reports objects whose size differs at the target: they
  are never replaced (the target is create-only), someone must look.

A pass that completes records the time it *began*: every object visible then is at the target,
so that time is what the backup covers (``covered_at``), and ``now - covered_at`` bounds the age
of the oldest object not yet copied (the blob part's lag). A pass that fails (the target is
unreachable) records the error and leaves the watermark where it was; the next pass starts over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from polaris.backup.state import read_state, update_state
from polaris.storage.backend import Backend, ObjectInfo, ObjectNotFound

log = logging.getLogger("polaris.backup")

SECTION = "blobs"
#: At most this many differing names are kept in a report (the count is exact).
MAX_NAMED = 20


@dataclass
class PassReport:
    """What one pass did. ``checked``: objects looked for at the target (every listed one in a
    full pass, the recent ones in an incremental pass)."""

    full: bool
    started_at: float
    finished_at: float = 0.0
    listed: int = 0
    checked: int = 0
    copied: int = 0
    copied_bytes: int = 0
    #: Removed from the store (garbage collection) between its listing and its copy.
    vanished: int = 0
    differing: int = 0
    differing_names: list[str] = field(default_factory=list)
    #: Modification time of the oldest object this pass had to copy: the oldest object that
    #: was not yet replicated when the pass began.
    oldest_copied_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BlobStatus:
    """The blob part, as the state file has it."""

    covered_at: float | None
    last_full_at: float | None
    last_error: str | None
    last_error_at: float | None
    last_pass: dict[str, Any] | None

    def lag(self, now: float) -> float | None:
        return None if self.covered_at is None else max(0.0, now - self.covered_at)


def blob_status(state_dir: Path) -> BlobStatus:
    section = read_state(state_dir).get(SECTION) or {}
    return BlobStatus(
        covered_at=section.get("covered_at"),
        last_full_at=section.get("last_full_at"),
        last_error=section.get("last_error"),
        last_error_at=section.get("last_error_at"),
        last_pass=section.get("last_pass"),
    )


class BlobReplicator:
    """Copies ``source``'s objects to ``target``; its progress lives in ``state_dir``."""

    def __init__(
        self,
        source: Backend,
        target: Backend,
        *,
        state_dir: Path,
        overlap_seconds: float = 600.0,
        full_every_seconds: float = 6 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.target = target
        self.state_dir = state_dir
        self.overlap_seconds = overlap_seconds
        self.full_every_seconds = full_every_seconds
        self.clock = clock

    def run_pass(self, *, full: bool | None = None) -> PassReport:
        """One pass (full when ``full`` says so, or when one is due); raises what the store or
        the target raise, after recording it."""
        section = read_state(self.state_dir).get(SECTION) or {}
        watermark = section.get("watermark")
        last_full = section.get("last_full_at")
        started = self.clock()
        if full is None:
            full = (
                watermark is None
                or last_full is None
                or started - last_full >= self.full_every_seconds
            )
        report = PassReport(full=full, started_at=started)
        try:
            if full or watermark is None:
                self._full(report)
            else:
                self._incremental(report, float(watermark) - self.overlap_seconds)
        except Exception as error:
            section.update(last_error=f"{type(error).__name__}: {error}", last_error_at=started)
            update_state(self.state_dir, SECTION, section)
            raise
        report.finished_at = self.clock()
        section.update(
            watermark=started,
            covered_at=started,
            last_full_at=started if full else last_full,
            last_error=None,
            last_error_at=None,
            last_pass=report.as_json(),
        )
        update_state(self.state_dir, SECTION, section)
        if report.copied or report.differing:
            log.info(
                "blob replication: %s pass copied %d object(s), %d differ at the target",
                "full" if full else "incremental",
                report.copied,
                report.differing,
            )
        for name in report.differing_names:
            log.error("blob replication: %s differs at the target (not replaced)", name)
        return report

    def _incremental(self, report: PassReport, since: float) -> None:
        for info in self.source.scan(""):
            report.listed += 1
            if info.modified_at < since:
                continue
            report.checked += 1
            if not self.target.exists(info.name):
                self._copy(info, report)

    def _full(self, report: PassReport) -> None:
        at_target = _Cursor(self.target.scan(""))
        for info in self.source.scan(""):
            report.listed += 1
            report.checked += 1
            there = at_target.seek(info.name)
            if there is None:
                # Missing, or the two listings' orders disagree: put is create-only either way.
                self._copy(info, report)
            elif there.size != info.size:
                report.differing += 1
                if len(report.differing_names) < MAX_NAMED:
                    report.differing_names.append(info.name)

    def _copy(self, info: ObjectInfo, report: PassReport) -> None:
        try:
            data = self.source.get(info.name)
        except ObjectNotFound:
            report.vanished += 1
            return
        if self.target.put(info.name, data):
            report.copied += 1
            report.copied_bytes += len(data)
            if report.oldest_copied_at is None or info.modified_at < report.oldest_copied_at:
                report.oldest_copied_at = info.modified_at


class _Cursor:
    """Walks a listing in name order alongside another one (a merge join: no listing is held
    in memory, whatever the store's size)."""

    def __init__(self, listing: Iterator[ObjectInfo]) -> None:
        self._listing = listing
        self._current: ObjectInfo | None = next(listing, None)

    def seek(self, name: str) -> ObjectInfo | None:
        """The entry named ``name``, skipping the entries before it; None if there is none."""
        while self._current is not None and self._current.name < name:
            self._current = next(self._listing, None)
        if self._current is not None and self._current.name == name:
            return self._current
        return None
