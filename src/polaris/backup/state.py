"""The backup's own small state file: ``DATA_DIR/backup/state.json``.

It holds what the processes that do the work learned (the blob replicator's watermark and the
time up to which everything is copied) for ``polaris backup status`` and ``polaris doctor`` in
other processes. It is not in the database on purpose: the replicator must not add writes (and
WAL to ship) of its own, and its state is rebuilt by one full pass if the file is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from polaris.config import Settings

STATE_DIR = "backup"
STATE_FILE = "state.json"


def state_dir(settings: Settings) -> Path:
    return settings.data_dir / STATE_DIR


def read_state(directory: Path) -> dict[str, Any]:
    """The state, or an empty one when there is no file yet (or it is unreadable: then every
    age is unknown and the next full pass writes it anew)."""
    try:
        data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_state(directory: Path, section: str, values: dict[str, Any]) -> None:
    """Replace one section of the state atomically (write a temporary file, fsync, rename):
    a reader sees the old file or the new one, never half of one."""
    directory.mkdir(parents=True, exist_ok=True)
    state = read_state(directory)
    state[section] = values
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / STATE_FILE)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
