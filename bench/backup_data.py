"""The data set of ``bench/backup.py``: a tree of files like a police station's records, made the
same way every time from a seed, and the ~1 % change made to it for the incremental backups.

The mix (shares of ``--size-mib``):

* 25 % many small files, 16–200 KiB: scanned pages (``.tif``, random bytes: a scan is already
  compressed) and text PDFs (``.pdf``, word text: compresses about 3× with zlib), half each;
* 40 % files of 5–50 MiB: a third text (exports, reports), the rest incompressible (photos,
  recordings);
* 35 % three files of a few hundred MiB: two CCTV recordings (incompressible), one CSV export
  (compressible).

No two files share content (restic and borg deduplicate, Polaris deduplicates whole chunks): the
ratios measure copying and compressing, not deduplication.
"""

from __future__ import annotations

import random
import shutil
from array import array
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

KIB = 1 << 10
MIB = 1 << 20
#: Tokens drawn per round of the text generator (the table is indexed by 16-bit values).
_TOKENS_PER_ROUND = 1 << 16


@dataclass(frozen=True)
class Entry:
    relative: str
    size: int
    compressible: bool


@dataclass(frozen=True)
class Change:
    """What :func:`apply_change` did: files added, files rewritten (kept aside for revert)."""

    added: list[Entry]
    modified: list[Entry]
    saved: Path

    @property
    def bytes(self) -> int:
        return sum(entry.size for entry in (*self.added, *self.modified))


def plan(size_mib: int, seed: int) -> list[Entry]:
    """The files of a data set of about ``size_mib`` MiB (never less than 1 MiB)."""
    rng = random.Random(f"plan:{seed}")
    total = max(1, size_mib) * MIB
    entries: list[Entry] = []
    small_budget, medium_budget = total * 25 // 100, total * 40 // 100
    used = 0
    case = 0
    while used < small_budget:
        case += 1
        year = 2005 + case % 20
        folder = f"cases/{year}/PS-{case % 37:02d}/FIR-{case:05d}-{year}"
        for page in range(rng.randint(4, 16)):
            size = min(rng.randint(16 * KIB, 200 * KIB), max(KIB, small_budget - used))
            text = rng.random() < 0.5
            name = f"statement-{page:03d}.pdf" if text else f"page-{page:03d}.tif"
            entries.append(Entry(f"{folder}/{name}", size, text))
            used += size
            if used >= small_budget:
                break
    used = 0
    index = 0
    while used < medium_budget:
        index += 1
        size = min(rng.randint(5 * MIB, 50 * MIB), medium_budget - used)
        text = index % 3 == 0
        name = f"report-{index:03d}.pdf" if text else f"evidence-{index:03d}.jpg.zip"
        entries.append(Entry(f"evidence/{2015 + index % 10}/{name}", size, text))
        used += size
    rest = total - sum(entry.size for entry in entries)
    for index, (name, text) in enumerate(
        [("cctv-gate-1.mp4", False), ("cctv-lockup.mp4", False), ("cctns-export.csv", True)]
    ):
        size = rest // 3 if index < 2 else rest - 2 * (rest // 3)
        if size > 0:
            entries.append(Entry(f"exports/{name}", size, text))
    return entries


def write_tree(root: Path, entries: list[Entry], seed: int) -> None:
    """Write every entry under ``root`` (the content depends on the seed and the name only)."""
    text = TextMaker(seed)
    for entry in entries:
        write_entry(root, entry, seed, text)


def write_entry(root: Path, entry: Entry, seed: int, text: TextMaker, salt: str = "") -> None:
    path = root / entry.relative
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"file:{seed}:{salt}:{entry.relative}")
    with path.open("wb") as out:
        left = entry.size
        while left > 0:
            piece = min(left, 4 * MIB)
            out.write(text.make(rng, piece) if entry.compressible else rng.randbytes(piece))
            left -= piece


def apply_change(
    root: Path, entries: list[Entry], seed: int, *, percent: float, saved: Path
) -> Change:
    """Change about ``percent`` % of the data set: rewrite some small files (their old content
    kept under ``saved`` for :func:`revert_change`), add small files and one larger one."""
    rng = random.Random(f"change:{seed}")
    text = TextMaker(seed)
    budget = int(sum(entry.size for entry in entries) * percent / 100)
    small = [entry for entry in entries if entry.relative.startswith("cases/")]
    modified: list[Entry] = []
    for entry in rng.sample(small, k=max(1, len(small) // 100)):
        changed = Entry(entry.relative, rng.randint(16 * KIB, 200 * KIB), entry.compressible)
        (saved / entry.relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / entry.relative, saved / entry.relative)
        write_entry(root, changed, seed, text, salt="changed")
        modified.append(changed)
    added: list[Entry] = []
    left = budget - sum(entry.size for entry in modified)
    large = max(KIB, left // 2)
    added.append(Entry("evidence/new/seizure-video.mp4", large, False))
    left -= large
    page = 0
    while left > 0:
        size = min(rng.randint(16 * KIB, 200 * KIB), max(KIB, left))
        textual = page % 2 == 0
        name = f"statement-{page:03d}.pdf" if textual else f"page-{page:03d}.tif"
        added.append(Entry(f"cases/new/FIR-{page // 10:05d}/{name}", size, textual))
        left -= size
        page += 1
    for entry in added:
        write_entry(root, entry, seed, text, salt="added")
    return Change(added, modified, saved)


def revert_change(root: Path, change: Change) -> None:
    """The tree as :func:`write_tree` left it (the next tool starts from the same files)."""
    for entry in change.added:
        (root / entry.relative).unlink()
    for directory in ("evidence/new", "cases/new"):
        shutil.rmtree(root / directory, ignore_errors=True)
    for entry in change.modified:
        shutil.copy2(change.saved / entry.relative, root / entry.relative)
    shutil.rmtree(change.saved)


class TextMaker:
    """Word text with a Zipf-like word frequency (what makes prose compress), at C speed: each
    16-bit random value picks a token from a 65,536-slot table."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"vocabulary:{seed}")
        syllables = [a + b for a in "bcdfghjklmnprstvy" for b in "aeiou"] + ["an", "er", "in"]
        words = ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(20_000)]
        tokens = [f"{word} ".encode() for word in words]
        tokens += [f"{number} ".encode() for number in range(1_000)]
        tokens += [b".\n", b", ", b"FIR ", b"u/s 302 IPC ", b"\n\n"]
        weights = [1.0 / (rank + 1) for rank in range(len(tokens))]
        self._table = tuple(rng.choices(tokens, weights=weights, k=_TOKENS_PER_ROUND))

    def make(self, rng: random.Random, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            picks = array("H", rng.randbytes(2 * _TOKENS_PER_ROUND))
            out += b"".join(itemgetter(*picks)(self._table))
        return bytes(out[:size])
