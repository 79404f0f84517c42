"""A real clamd for the malware-scanning tests, with its own config and a signature database
made here: one ``.ndb`` signature for the EICAR test string (no downloads, no freshclam).

Debian's ``clamav-daemon`` (``scripts/test.sh`` installs it). The daemon runs in the foreground
on a Unix socket in a temporary directory; the fixture polls the socket (``PING``) until clamd
answers, and stops the daemon at teardown.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from polaris import malware

#: The EICAR anti-virus test file: harmless, and detected by every scanner that is told to.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Polaris.Test.EICAR"
#: clamd's StreamMaxLength in the tests: small, so that "larger than clamd accepts" is cheap.
STREAM_MAX = 1024 * 1024


@dataclass(frozen=True)
class Clamd:
    socket: str
    stream_max: int


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    """A running clamd knowing one signature (EICAR), for the whole run."""
    binary = shutil.which("clamd") or "/usr/sbin/clamd"
    if not Path(binary).exists():
        pytest.fail("clamd is missing: run ./scripts/test.sh, which installs clamav-daemon")
    # A short directory: a Unix socket path is limited to about 100 bytes.
    base = Path(tmp_path_factory.mktemp("clamd"))
    database = base / "db"
    database.mkdir()
    (database / "polaris-test.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
    sock = base / "clamd.sock"
    config = base / "clamd.conf"
    config.write_text(
        f"Foreground yes\nLocalSocket {sock}\nDatabaseDirectory {database}\n"
        f"StreamMaxLength {STREAM_MAX}\nLogFile {base / 'clamd.log'}\n"
    )
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not malware.ping(str(sock), timeout=1.0):
            try:  # poll: a daemon that died says so at once, a live one gets another look
                code = process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None or time.monotonic() > deadline:
                log = (base / "clamd.log").read_text() if (base / "clamd.log").exists() else ""
                pytest.fail(f"clamd did not start (exit {code}): {log[-2000:]}")
        yield Clamd(str(sock), STREAM_MAX)
    finally:
        process.terminate()
        process.wait(timeout=30)
