"""WebDAV mounted in Polaris's ASGI app (a2wsgi) or served standalone by cheroot: server CPU.

The same Polaris WebDAV app (``polaris.dav.server.make_dav_app``) over the same instance, served
two ways, one after the other:

- **mounted**: ``polaris serve`` (uvicorn, FastAPI, Polaris's middleware, a2wsgi's bridge);
- **standalone**: WsgiDAV's usual server, cheroot, on a port of its own (no ASGI at all).

Each gets ``--files`` small PUTs then as many GETs on one keep-alive connection; the table gives
the server process's CPU time (user + system, from ``/proc``) per request, which the machine's
other load changes far less than wall time, and requests per second of wall time. Run from the
repository root: ``PYTHONPATH=src .venv/bin/python bench/dav_mount.py [--files 500]``
(needs ``cheroot``: ``.venv/bin/pip install cheroot``).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_server import Server, free_port, wait_for  # noqa: E402

SETUP = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from typer.testing import CliRunner
    from polaris.cli.main import app
    from polaris.config import load_settings
    from polaris.db.uow import transaction
    from polaris.identity import app_passwords
    from polaris.instance import open_instance
    from tests.factories import SYSTEM, build_tree, make_user

    data_dir = Path(sys.argv[1])
    assert CliRunner().invoke(app, ["init", str(data_dir)]).exit_code == 0
    instance = open_instance(load_settings(data_dir))
    session = instance.sessions()
    with transaction(session):
        build_tree(session)
        user = make_user(session, "bench", unit="PS-A1", role="head_constable")
        secret = app_passwords.create(
            session=session, user=user, name="bench", scope="write", context=SYSTEM
        ).secret
    print(secret)
    """
)
STANDALONE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cheroot import wsgi
    from polaris.config import load_settings
    from polaris.dav.server import make_dav_app
    from polaris.instance import open_instance

    instance = open_instance(load_settings(Path(sys.argv[1])))
    server = wsgi.Server(("127.0.0.1", int(sys.argv[2])), make_dav_app(instance), numthreads=16)
    server.start()
    """
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(port: int, pid: int, secret: str, files: int, label: str) -> dict[str, float]:
    auth = "Basic " + base64.b64encode(f"bench:{secret}".encode()).decode()
    body = os.urandom(4096)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("MKCOL", f"/dav/bench/{label}", headers={"Authorization": auth})
    connection.getresponse().read()
    figures: dict[str, float] = {}
    for method in ("PUT", "GET"):
        cpu, wall = cpu_seconds(pid), time.perf_counter()
        for n in range(files):
            connection.request(
                method,
                f"/dav/bench/{label}/f{n}.bin",
                body=body if method == "PUT" else None,
                headers={"Authorization": auth},
            )
            response = connection.getresponse()
            response.read()
            assert response.status in (200, 201, 204), (method, response.status)
        figures[f"{method} ms CPU/req"] = (cpu_seconds(pid) - cpu) * 1000 / files
        figures[f"{method} req/s"] = files / (time.perf_counter() - wall)
    connection.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "instance"
        secret = subprocess.run(
            [python, "-c", SETUP, str(data_dir)], env=env, capture_output=True, text=True
        ).stdout.split()[-1]
        results: dict[str, dict[str, float]] = {}
        # No job workers in either: the jobs a PUT queues (previews, text, index) are not HTTP.
        quiet = {"POLARIS_DAV__ALLOW_PLAIN_HTTP": "true", "POLARIS_JOBS__IN_PROCESS_WORKERS": "0"}
        server = Server(data_dir, env={**env, **quiet})
        server.start()
        try:
            assert server.process is not None
            results["mounted (uvicorn + FastAPI + a2wsgi)"] = run(
                server.port, server.process.pid, secret, args.files, "mounted"
            )
        finally:
            server.stop()
        port = free_port()
        standalone = subprocess.Popen(
            [python, "-c", STANDALONE, str(data_dir), str(port)],
            env={**env, **quiet},
        )
        try:

            def up() -> bool:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                    return True
                except OSError:
                    return False

            wait_for(up, what="cheroot")
            results["standalone (cheroot)"] = run(
                port, standalone.pid, secret, args.files, "standalone"
            )
        finally:
            standalone.terminate()
            standalone.wait()
    columns = list(next(iter(results.values())))
    print(f"{'server':40}" + "".join(f"{c:>18}" for c in columns))
    for name, figures in results.items():
        print(f"{name:40}" + "".join(f"{figures[c]:>18.2f}" for c in columns))
    mounted, alone = results.values()
    for method in ("PUT", "GET"):
        key = f"{method} ms CPU/req"
        print(f"{method}: mounted / standalone CPU per request = {mounted[key] / alone[key]:.2f}")


if __name__ == "__main__":
    main()
