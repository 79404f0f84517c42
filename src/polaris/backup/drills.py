"""What restore drills achieved, and whether the master key is escrowed: small state files.

``DATA_DIR/backup/drills.json`` is an append-only list of drills (time, outcome, RPO, RTO,
files sampled), read by ``backup status`` and the doctor's ``backup.drill`` check. The escrow
confirmation is a section of ``state.json`` (``polaris.backup.state``); it is audited too, by
the command that records it. Neither is in the database, so neither is lost with it, and a drill
adds no writes to what it measures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from polaris.backup.state import read_state, update_state

DRILLS_FILE = "drills.json"
ESCROW = "escrow"


@dataclass(frozen=True)
class Drill:
    at: dt.datetime
    ok: bool
    #: Newest change in the restored state vs the time of the drill (what a disaster now loses).
    rpo_seconds: float | None
    #: Wall time from the start of the restore to a verified instance.
    rto_seconds: float
    files_sampled: int
    detail: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Drill:
        return cls(**{**data, "at": dt.datetime.fromisoformat(data["at"])})


def drills(directory: Path) -> list[Drill]:
    try:
        data = json.loads((directory / DRILLS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    return [Drill.from_json(entry) for entry in data] if isinstance(data, list) else []


def last_drill(directory: Path) -> Drill | None:
    found = drills(directory)
    return found[-1] if found else None


def record_drill(directory: Path, drill: Drill) -> None:
    """Append ``drill`` (rewrite the list atomically: a reader sees the old or the new one)."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = [entry.as_json() for entry in drills(directory)] + [drill.as_json()]
    fd, tmp = tempfile.mkstemp(prefix=".drills-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(entries, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / DRILLS_FILE)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class Escrow:
    by: str
    at: dt.datetime


def escrow(directory: Path) -> Escrow | None:
    section = read_state(directory).get(ESCROW)
    if not section:
        return None
    return Escrow(section["by"], dt.datetime.fromisoformat(section["at"]))


def confirm_escrow(directory: Path, *, by: str, at: dt.datetime) -> None:
    update_state(directory, ESCROW, {"by": by, "at": at.isoformat()})
