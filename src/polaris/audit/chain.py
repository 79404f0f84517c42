"""The record-by-record judgement behind ``verify``: what is wrong, and at which seq.

``ChainWalker.feed`` takes rows in seq order. Its invariant: every inconsistency between a record,
its hash and its neighbours produces at least one finding; a check is skipped only when a finding
already made explains it (so one tampering gives one precise finding, not a cascade).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from polaris.audit.encoding import GENESIS_HASH, record_hash


class FindingKind(StrEnum):
    ALTERED = "altered"  # the content does not match the record's hash
    MISSING = "missing"  # a record was deleted (a gap, or the rest renumbered to hide one)
    INSERTED = "inserted"  # a record that the log did not write
    REORDERED = "reordered"  # two adjacent records swapped places
    BROKEN_LINK = "broken_link"  # prev_hash differs from the previous record's hash
    BEYOND_HEAD = "beyond_head"  # records after the seq the head row names
    TRUNCATED = "truncated"  # the head or a signed checkpoint names records past the end
    HEAD_MISSING = "head_missing"
    HEAD_MISMATCH = "head_mismatch"
    CHECKPOINT_FORGED = "checkpoint_forged"  # the signature does not verify
    CHECKPOINT_UNKNOWN_KEY = "checkpoint_unknown_key"  # signed by a key we were not given
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # validly signed, but the chain differs there
    CHECKPOINT_MISSING = "checkpoint_missing"  # a checkpoint names a predecessor that is gone
    UNCOVERED = "uncovered"  # records older than the sealing interval that no checkpoint covers
    ANCHOR_MISSING = "anchor_missing"  # a checkpoint kept outside the database is not in it
    ANCHOR_FILE_MISSING = "anchor_file_missing"  # the configured anchor file is gone
    ANCHOR_MISMATCH = "anchor_mismatch"  # ... or differs from the copy kept outside


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    seq: int | None
    message: str


FindingSink = Callable[[FindingKind, "int | None", str], None]


@dataclass
class _MovedRun:
    """Consecutive records stored at seq s that hash correctly as seq s + shift."""

    start: int
    end: int
    shift: int


def seq_range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}–{last}"


def span(first: int, last: int) -> str:
    """``record 5`` or ``records 5–7``, for messages."""
    return f"record {first}" if first == last else f"records {first}–{last}"


def content_shift(row: Mapping[str, Any]) -> int | None:
    """0 if the record matches its hash, ±1 if it does so under a neighbouring seq, else None."""
    try:
        if row["at"] is None:
            return None
        version = row["hash_version"]
        if record_hash(row, hash_version=version) == row["hash"]:
            return 0
        for shift in (1, -1):
            moved = {**row, "seq": row["seq"] + shift}
            if record_hash(moved, hash_version=version) == row["hash"]:
                return shift
    except (ValueError, TypeError):  # unknown version, or a value of the wrong type (SQLite)
        return None
    return None


class ChainWalker:
    def __init__(self, sink: FindingSink) -> None:
        self._sink = sink
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self._before_last: tuple[int, str] | None = None  # (seq, hash) of the record before last
        self._last_flagged = False
        self._run: _MovedRun | None = None

    def feed(self, row: Mapping[str, Any]) -> None:
        seq: int = row["seq"]
        if seq < 1:
            self._sink(FindingKind.INSERTED, seq, f"record {seq} lies before the chain's start (1)")
            return
        shift = content_shift(row)
        if seq > self.last_seq + 1:
            self._flush_run()
            first, last = self.last_seq + 1, seq - 1
            self._sink(FindingKind.MISSING, first, f"{span(first, last)} deleted (a gap)")
        elif row["prev_hash"] != self.last_hash and shift == 0 and not self._last_flagged:
            self._judge_link(seq, row["prev_hash"])
        if shift is None:
            self._flush_run()
            self._sink(
                FindingKind.ALTERED, seq, f"record {seq} was altered: it does not match its hash"
            )
        elif shift:
            self._extend_run(seq, shift)
        else:
            self._flush_run()
        self._before_last = (self.last_seq, self.last_hash) if self.last_seq else None
        self.last_seq, self.last_hash = seq, row["hash"]
        self._last_flagged = shift != 0

    def finish(self) -> None:
        self._flush_run()

    def _judge_link(self, seq: int, prev_hash: str) -> None:
        previous = self.last_seq
        if self._before_last is not None and prev_hash == self._before_last[1]:
            self._sink(
                FindingKind.INSERTED,
                previous,
                f"record {previous} was inserted: record {seq} links to record "
                f"{self._before_last[0]}",
            )
        else:
            self._sink(
                FindingKind.BROKEN_LINK,
                seq,
                f"record {seq} does not link to record {previous}: one of them was replaced "
                "and its hash recomputed",
            )

    def _extend_run(self, seq: int, shift: int) -> None:
        run = self._run
        if run is not None and run.end == seq - 1:
            if run.shift == shift:
                run.end = seq
                return
            if run.shift == 1 and shift == -1 and run.start == run.end:
                self._run = None
                self._sink(
                    FindingKind.REORDERED, run.start, f"records {run.start} and {seq} swapped"
                )
                return
        self._flush_run()
        self._run = _MovedRun(seq, seq, shift)

    def _flush_run(self) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        first, last = run.start + run.shift, run.end + run.shift
        if run.shift < 0:
            self._sink(
                FindingKind.INSERTED,
                run.start - 1,
                f"record {run.start - 1} was inserted: {span(first, last)} renumbered up to "
                f"{seq_range(run.start, run.end)}",
            )
        else:
            self._sink(
                FindingKind.MISSING,
                run.start,
                f"record {run.start} deleted: {span(first, last)} renumbered down to "
                f"{seq_range(run.start, run.end)}",
            )
