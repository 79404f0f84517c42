"""The real Nextcloud desktop client's command-line sync (Debian's ``nextcloud-desktop-cmd``,
3.7 on bookworm) against a real ``polaris serve``: three devices of one officer syncing their own
space, with Hindi names, a 25 MiB file (chunked upload v2), edits on both sides, a conflict, a
rename and a delete; a fresh device ends equal by SHA-256, and a sync with nothing changed
transfers nothing (no PUT, GET, MOVE, DELETE or MKCOL in the server's access log)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dav.conftest import Dav, serving

pytestmark = pytest.mark.slow

FILES = 1000
BIG = 25 * 1024 * 1024
TRANSFERS = {"PUT", "GET", "MOVE", "DELETE", "MKCOL", "COPY"}


def sync(dav: Dav, local: Path) -> None:
    client = shutil.which("nextcloudcmd")
    assert client is not None, "nextcloudcmd is not installed (scripts/test.sh installs it)"
    local.mkdir(exist_ok=True)
    run = subprocess.run(
        [
            client,
            "--non-interactive",
            "--silent",
            "-u",
            "hc.a1",
            "-p",
            dav.secrets["hc.a1"],
            "--path",
            "/hc.a1",
            str(local),
            f"http://127.0.0.1:{dav.server.port}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(local.parent), "LANG": "C.UTF-8"},
    )
    assert run.returncode == 0, run.stderr[-4000:]


def tree(local: Path) -> dict[str, str]:
    """Every synced file by its path, as SHA-256 (the client's own files and conflicts left out)."""
    found = {}
    for path in sorted(local.rglob("*")):
        name = path.relative_to(local).as_posix()
        own = path.name.startswith((".sync_", "._sync_", ".owncloudsync"))
        if path.is_file() and not own and "conflicted copy" not in path.name:
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def conflicts(local: Path) -> list[Path]:
    return [p for p in local.rglob("*") if "conflicted copy" in p.name]


def write(path: Path, data: bytes, *, age: int = 0) -> None:
    """Write and date the file ``age`` seconds into the past: the client sees a change by its
    modification time and size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = path.stat().st_mtime - age
    os.utime(path, (stamp, stamp))


def transfers_in(log: Path, start: int) -> list[str]:
    with log.open("rb") as stream:
        stream.seek(start)
        lines = stream.read().decode("utf-8", "replace").splitlines()
    found = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (
            entry.get("logger") == "polaris.access_log"
            and entry.get("method") in TRANSFERS
            and str(entry.get("path", "")).startswith("/remote.php/dav/")
        ):
            found.append(f"{entry['method']} {entry['path']}")
    return found


def log_of(dav: Dav) -> Path:
    return max((dav.data_dir / "logs").glob("polaris-*.log"))


def test_three_devices_sync_with_nextcloudcmd(tmp_path: Path) -> None:
    with serving(tmp_path / "instance") as dav:
        a, b, c = tmp_path / "device-a", tmp_path / "device-b", tmp_path / "device-c"
        a.mkdir()
        for index in range(FILES):
            folder = ("रिपोर्ट", "प्राथमिकी", "")[index % 3]
            write(a / folder / f"दस्तावेज़-{index:03d}.txt", f"फ़ाइल {index}\n".encode() * 20)
        write(a / "वीडियो" / "बड़ी-फ़ाइल.bin", os.urandom(BIG))
        sync(dav, a)
        sync(dav, b)
        assert tree(b) == tree(a)
        assert len(tree(a)) == FILES + 1

        # An edit on each side reaches the other.
        edit_a, edit_b = a / "रिपोर्ट" / "दस्तावेज़-000.txt", b / "प्राथमिकी" / "दस्तावेज़-001.txt"
        write(edit_a, "बदला गया A\n".encode(), age=5)
        write(edit_b, "बदला गया B, लंबा\n".encode(), age=5)
        sync(dav, a)
        sync(dav, b)
        sync(dav, a)
        assert tree(a) == tree(b)
        assert (b / "रिपोर्ट" / "दस्तावेज़-000.txt").read_bytes() == "बदला गया A\n".encode()
        assert (a / "प्राथमिकी" / "दस्तावेज़-001.txt").read_bytes() == "बदला गया B, लंबा\n".encode()

        # A conflict: both change the same file; nothing is lost.
        both = "दस्तावेज़-002.txt"
        write(a / both, "A का संस्करण\n".encode(), age=3)
        write(b / both, "B का संस्करण, अलग\n".encode(), age=3)
        sync(dav, a)
        sync(dav, b)
        assert (b / both).read_bytes() == "A का संस्करण\n".encode()
        kept = [path.read_bytes() for path in conflicts(b)]
        assert "B का संस्करण, अलग\n".encode() in kept

        # A rename on A, a delete on B.
        (a / "रिपोर्ट" / "दस्तावेज़-003.txt").rename(a / "रिपोर्ट" / "नया नाम.txt")
        (b / "दस्तावेज़-005.txt").unlink()
        sync(dav, a)
        sync(dav, b)
        sync(dav, a)
        assert not (b / "रिपोर्ट" / "दस्तावेज़-003.txt").exists()
        assert (b / "रिपोर्ट" / "नया नाम.txt").exists()
        assert not (a / "दस्तावेज़-005.txt").exists()
        assert tree(a) == tree(b)

        # A third, fresh device ends equal by SHA-256.
        sync(dav, c)
        assert tree(c) == tree(a)

        # Nothing changed: a second sync of each device transfers nothing.
        log = log_of(dav)
        start = log.stat().st_size
        sync(dav, a)
        sync(dav, c)
        assert transfers_in(log, start) == []
        # ... while it did ask (the log is written as the requests come).
        with log.open("rb") as stream:
            stream.seek(start)
            assert b'"PROPFIND"' in stream.read()
