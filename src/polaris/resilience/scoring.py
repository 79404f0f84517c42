"""The guard's score: points per suspicious write in a sliding window, doubled in a burst.

Kept simple so that an administrator can follow every freeze from its evidence:

| finding | points |
| --- | --- |
| ``signature_lost``, ``entropy_jump``, ``type_mismatch`` (a file that looks encrypted) | 2 |
| ``ransom_extension`` (a create or rename to a known ransomware extension) | 2 |
| ``ransom_note`` (a ransom note's name) | 5 |
| ``canary`` (a canary renamed, overwritten or trashed) | freeze at once |

Points are **doubled** while the account writes in a burst: at least ``BURST_MIN_WRITES`` in the
current minute and ``BURST_FACTOR`` times its usual rate (``baseline``). The account's writes are
frozen when the points of the last ``WINDOW_SECONDS`` reach ``FREEZE_SCORE``: ten encrypted-
looking files at most, five in a burst.
"""

from __future__ import annotations

from collections.abc import Sequence

WINDOW_SECONDS = 600
FREEZE_SCORE = 20
POINTS = {
    "signature_lost": 2,
    "entropy_jump": 2,
    "type_mismatch": 2,
    "ransom_extension": 2,
    "ransom_note": 5,
}
CANARY = "canary"
BURST_MIN_WRITES = 20
BURST_FACTOR = 5.0
#: Weight of the newest minute in the moving average of writes per minute.
BASELINE_WEIGHT = 0.2
#: Findings kept per account for the page and the freeze's audit record.
EVIDENCE_KEPT = 50
#: Entries kept in the window, whatever its time span (a bound on the row's size).
WINDOW_ENTRIES = 2000


def points(findings: Sequence[str]) -> int:
    return sum(POINTS.get(finding, 0) for finding in findings)


class Window:
    """The sliding window and rate of one account, loaded from and saved to its row."""

    def __init__(
        self,
        recent: list[list[float]],
        *,
        minute_start: int,
        minute_writes: int,
        baseline: float,
    ) -> None:
        self.recent = [list(entry) for entry in recent]
        self.minute_start = minute_start
        self.minute_writes = minute_writes
        self.baseline = baseline

    def record(self, at: float, findings: Sequence[str]) -> int:
        """Count one write at ``at`` (epoch seconds) with its findings; the points it scored."""
        minute = int(at // 60)
        if minute != self.minute_start:
            if self.minute_writes:
                self.baseline += BASELINE_WEIGHT * (self.minute_writes - self.baseline)
            self.minute_start, self.minute_writes = minute, 0
        self.minute_writes += 1
        scored = points(findings) * (2 if self.in_burst else 1)
        if scored:
            self.recent.append([at, scored])
        self.recent = [e for e in self.recent if e[0] > at - WINDOW_SECONDS][-WINDOW_ENTRIES:]
        return scored

    @property
    def in_burst(self) -> bool:
        return self.minute_writes >= max(BURST_MIN_WRITES, BURST_FACTOR * self.baseline)

    @property
    def score(self) -> int:
        return int(sum(entry[1] for entry in self.recent))
