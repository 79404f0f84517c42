"""A real ``polaris serve`` process for tests that need one (crash, workers, browser)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

POLARIS = str(Path(sys.executable).parent / "polaris")
CHUNK = 64 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(
        self,
        data_dir: Path,
        workers: int = 1,
        *,
        env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        #: Settings of this server alone (``POLARIS_*``), over the test process's environment.
        self.env = env or {}
        #: Where its output goes (appended: a restarted server adds to it); none by default.
        self.log = log

    def start(self) -> None:
        env = {**os.environ, "POLARIS_STORAGE__CHUNK_SIZE": str(CHUNK), **self.env}
        output = open(self.log, "ab") if self.log is not None else None  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                POLARIS,
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=env,
            stdout=output or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
        )
        if output is not None:
            output.close()  # the child holds its own copy
        try:
            wait_for(lambda: self.ready(), what="server start")
        except BaseException:
            # A server too slow to start (a loaded machine) would otherwise outlive the test
            # that gave up on it, and slow every test after it.
            self.stop()
            raise

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError("polaris serve exited")
        try:
            return self.request("GET", "/api/v1/health")[0] == 200
        except OSError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Stop the server; one that has not stopped 30 s after being asked is killed, so a
        failed test never leaves a server running (the failure is the test's, not this)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


def wait_for(condition, what: str, *, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it holds (waiting for an outside process, not for timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)
