"""rclone (Debian's, 1.60) against a real ``polaris serve`` as a Nextcloud server (``--webdav-vendor
nextcloud``): copy and sync up and down with ``--checksum``, with Hindi names. The server answers
``oc:checksums`` (SHA-1) for what came over WebDAV, so a change that keeps the size and the time
is still seen; a second copy transfers nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dav.conftest import Dav, serving
from tests.dav.test_nextcloudcmd import log_of, transfers_in

pytestmark = pytest.mark.slow


def _tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _rclone(dav: Dav, home: Path, *args: str) -> str:
    rclone = shutil.which("rclone")
    assert rclone is not None, "rclone is not installed (scripts/test.sh installs it)"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    obscured = subprocess.run(
        [rclone, "obscure", dav.secrets["hc.a1"]],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    env |= {
        "RCLONE_CONFIG_POLARIS_TYPE": "webdav",
        "RCLONE_CONFIG_POLARIS_URL": (
            f"http://127.0.0.1:{dav.server.port}/remote.php/dav/files/hc.a1/hc.a1"
        ),
        "RCLONE_CONFIG_POLARIS_VENDOR": "nextcloud",
        "RCLONE_CONFIG_POLARIS_USER": "hc.a1",
        "RCLONE_CONFIG_POLARIS_PASS": obscured,
    }
    run = subprocess.run(
        [rclone, "--config", "/dev/null", "--checksum", "-v", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return run.stderr


def test_rclone_copies_and_syncs_up_and_down_by_checksum(tmp_path: Path) -> None:
    with serving(tmp_path / "instance") as dav:
        up = tmp_path / "up"
        for index in range(30):
            path = up / ("रिपोर्ट" if index % 2 else "प्राथमिकी") / f"फ़ाइल-{index:02d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(2000 + index))
        (up / "बड़ी.bin").write_bytes(os.urandom(6 * 1024 * 1024))
        _rclone(dav, tmp_path, "copy", str(up), "polaris:rclone")
        assert "0 differences found" in _rclone(dav, tmp_path, "check", str(up), "polaris:rclone")

        # Nothing changed: a second copy transfers nothing.
        log = log_of(dav)
        start = log.stat().st_size
        assert "nothing to transfer" in _rclone(dav, tmp_path, "copy", str(up), "polaris:rclone")
        assert transfers_in(log, start) == []

        # A change of the same size and time is seen by its checksum; a delete goes up.
        edited = up / "रिपोर्ट" / "फ़ाइल-01.txt"
        stat = edited.stat()
        edited.write_bytes(os.urandom(stat.st_size))
        os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        (up / "प्राथमिकी" / "फ़ाइल-00.txt").unlink()
        _rclone(dav, tmp_path, "sync", str(up), "polaris:rclone")
        assert "0 differences found" in _rclone(
            dav, tmp_path, "check", "--download", str(up), "polaris:rclone"
        )

        # Down: a sync to an empty folder, then a change made on the server.
        down = tmp_path / "down"
        _rclone(dav, tmp_path, "sync", "polaris:rclone", str(down))
        assert _tree(down) == _tree(up)
        status, _, _ = dav.request(
            "PUT", "/remote.php/dav/files/hc.a1/hc.a1/rclone/बड़ी.bin", body=b"on the server"
        )
        assert status == 204
        _rclone(dav, tmp_path, "sync", "polaris:rclone", str(down))
        assert (down / "बड़ी.bin").read_bytes() == b"on the server"
