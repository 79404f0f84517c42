"""Backup and restore throughput of Polaris beside restic and borg, on the same files, in memory.

Run by hand (never in CI), as root on a Debian machine, from the repository root:

    PYTHONPATH=src .venv/bin/python bench/backup.py                    # 2 GiB, minutes
    PYTHONPATH=src .venv/bin/python bench/backup.py --size-mib 32      # smoke test

It writes one data set (``bench/backup_data.py``: ~5,000 small files, some of 5–50 MiB, three of
a few hundred MiB; a third of the bytes compressible) into a tmpfs (``--tmp``, default /dev/shm),
then for each tool in turn, starting from the same files:

* **Polaris**: a fresh ``polaris init --demo`` instance (SQLite, local blob store, encryption on)
  with ``[backup] target`` a directory in the tmpfs; every file uploaded as the demo constable
  through the drive's services (the bulk importer's path: the blob writer, then
  ``drive.content.commit_upload``), untimed. Initial backup: what ``polaris backup run`` does
  (``backup.runner.run``, Litestream and the blob replicator) from its start until the first blob
  pass is done and the database replica is current (``litestream ltx``, polled every 0.5 s; LTX
  times are whole seconds). Incremental: the same after the change, uploaded as new files and
  new versions, with ``backup run`` stopped meanwhile. Restore: ``polaris restore`` into an empty
  directory (its own timer for the restore; the rest of the wall time is its storage and audit
  verification, which reads every file back, and the CLI's start).
* **restic**: ``restic init``, ``restic backup``, ``restic backup`` again, ``restic restore
  latest`` (repository format and compression: restic's defaults).
* **borg**: ``borg init -e repokey``, ``borg create`` (default compression lz4) twice, ``borg
  extract``.

Restic's and borg's caches live in the tmpfs too. Every measured command is timed with the wall
clock; CPU is the user+system time of the processes that did the work. GB = 10^9 bytes. Progress
goes to stderr, the Markdown report to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from backup_data import Change, Entry, apply_change, plan, revert_change, write_tree
from lib_peers import BenchError, ensure_debian_packages, temp_tree

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

TOOLS = ("polaris", "restic", "borg")
PASSWORD = "bench-only-password"  # a throwaway repository in a temp dir
POLL_SECONDS = 0.5


@dataclass
class Timed:
    seconds: float
    cpu: float
    detail: str = ""


@dataclass
class Result:
    tool: str
    version: str
    initial: Timed | None = None
    incremental: Timed | None = None
    restore: Timed | None = None
    #: Polaris only: the restore alone (``polaris restore``'s own timer); ``restore`` is the
    #: whole command, verification included.
    restore_only: float | None = None
    repo_bytes: int = 0
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def timed(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[Timed, str]:
    """Wall time and the children's CPU time of one command."""
    cpu = children_cpu()
    started = time.perf_counter()
    out = run(cmd, env=env, cwd=cwd)
    return Timed(time.perf_counter() - started, children_cpu() - cpu), out


def du(path: Path) -> int:
    """Bytes allocated (``du -sb``: apparent sizes, every file once)."""
    return int(run(["du", "-sb", str(path)]).split()[0])


def tree_digest(root: Path) -> tuple[int, int, str]:
    """Files, bytes and one SHA-256 over every (name, content) in name order."""
    digest = hashlib.sha256()
    files = size = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as handle:
            while piece := handle.read(1 << 20):
                digest.update(piece)
                size += len(piece)
        files += 1
    return files, size, digest.hexdigest()


# --- Polaris ------------------------------------------------------------------------------------


def polaris_cli(*args: str, cwd: Path) -> tuple[Timed, str]:
    """The ``polaris`` command, from the same Python and ``PYTHONPATH`` as this script."""
    return timed([sys.executable, "-c", "from polaris.cli.main import app; app()", *args], cwd=cwd)


class Uploader:
    """Files into the demo constable's own space, as the bulk importer stores them."""

    def __init__(self, data_dir: Path) -> None:
        from polaris.config import load_settings
        from polaris.drive import spaces
        from polaris.identity import users
        from polaris.identity.actors import RequestInfo, actor_context, actor_for
        from polaris.instance import open_instance

        self.instance = open_instance(load_settings(data_dir))
        with self._session() as session:
            user = users.get_by_username(session=session, username="ct.kotwali")
            self.actor = actor_for(session=session, user=user, auth_factors="cli")
            space = spaces.ensure_user_space(
                session, user, spaces.space_defaults(self.instance.settings)
            )
            self.root = spaces.root_node(session, space).id
        self.context = actor_context(self.actor, RequestInfo(client="cli:bench"))
        self.folders: dict[str, int] = {"": self.root}

    @contextmanager
    def _session(self) -> Iterator[Session]:
        from polaris.db.uow import unit_of_work

        with unit_of_work(self.instance.sessions) as session:
            yield session

    def folder(self, relative: str) -> int:
        if relative in self.folders:
            return self.folders[relative]
        from polaris.drive import service

        parent, _, name = relative.rpartition("/")
        parent_id = self.folder(parent)
        with self._session() as session:
            located, _ = service.ensure_folder(
                session=session,
                actor=self.actor,
                context=self.context,
                parent_id=parent_id,
                name=name,
            )
        self.folders[relative] = located.node.id
        return located.node.id

    def upload(self, root: Path, entry: Entry, *, overwrite: bool = False) -> None:
        from polaris.drive import content

        parent, _, name = entry.relative.rpartition("/")
        parent_id = self.folder(parent)
        blobs = self.instance.blobs
        writer = blobs.writer(limit=self.instance.settings.drive.max_file_bytes)
        with (root / entry.relative).open("rb") as source:
            while piece := source.read(1 << 20):
                writer.write(piece)
        stored = writer.finish()
        with self._session() as session:
            content.commit_upload(
                session=session,
                actor=self.actor,
                context=self.context,
                blobs=blobs,
                content=stored,
                parent_id=parent_id,
                name=name,
                overwrite=overwrite,
            )

    def close(self) -> None:
        self.instance.close()


def backup_until_current(data_dir: Path) -> Timed:
    """``polaris backup run`` (its runner, in a thread) from its start until the first blob pass
    is done and Litestream's replica holds the database's last write; then stopped."""
    from polaris import clock
    from polaris.backup import runner
    from polaris.backup.litestream import database_status
    from polaris.backup.replicate import PassReport
    from polaris.backup.state import state_dir
    from polaris.backup.target import backup_target
    from polaris.config import load_settings

    settings = load_settings(data_dir)
    target = backup_target(settings)
    # The polls write their Litestream configuration elsewhere: ``write_config`` uses one fixed
    # temporary name, and two writers at once (the supervisor starting) make one of them fail.
    directory = state_dir(settings) / "bench-poll"
    passes: list[tuple[float, PassReport]] = []
    passed = threading.Event()
    failed: list[BaseException] = []

    def on_pass(report: PassReport) -> None:
        passes.append((time.perf_counter(), report))
        passed.set()

    def work() -> None:
        try:
            runner.run(settings, stop=stop, on_pass=on_pass)
        except BaseException as error:  # reported by the main thread
            failed.append(error)
            passed.set()

    stop = threading.Event()
    cpu, own = children_cpu(), self_cpu()
    started = time.perf_counter()
    thread = threading.Thread(target=work, name="backup-run")
    thread.start()
    database_at: float | None = None
    try:
        while database_at is None or not passes:
            if failed:
                raise BenchError(f"polaris backup run failed: {failed[0]!r}")
            if database_at is None:
                now = clock.utcnow()
                status = database_status(settings, target, directory, now=now)
                if status.newest_replicated_at is not None and status.covered_at == now:
                    database_at = time.perf_counter()
            passed.wait(POLL_SECONDS)
    finally:
        stop.set()
        thread.join()
    blob_at, report = passes[0]
    seconds = max(blob_at, database_at) - started
    detail = (
        f"{'full' if report.full else 'incremental'} blob pass {blob_at - started:.1f} s "
        f"({report.copied:,} of {report.listed:,} objects, {report.copied_bytes / 1e9:.2f} GB "
        f"copied); database current after {database_at - started:.1f} s"
    )
    return Timed(seconds, children_cpu() - cpu + self_cpu() - own, detail)


def bench_polaris(work: Path, data: Path, entries: list[Entry], args: argparse.Namespace) -> Result:
    data_dir, target = work / "polaris", work / "polaris-backup"
    polaris_cli("init", str(data_dir), "--demo", cwd=work)
    with (data_dir / "polaris.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[backup]\ntarget = "{target}"\n')
    result = Result("Polaris", run([sys.executable, "-c", _VERSION]).strip())
    log(f"Polaris: uploading {len(entries):,} files through the drive's services")
    uploader = Uploader(data_dir)
    started = time.perf_counter()
    try:
        for entry in entries:
            uploader.upload(data, entry)
    finally:
        uploader.close()
    upload_s = time.perf_counter() - started
    # A running server seals the audit log every few seconds; without it the restore's
    # ``audit verify`` would find only unsealed records (which it does not check).
    polaris_cli("audit", "seal", "--data-dir", str(data_dir), cwd=work)
    size = sum(entry.size for entry in entries)
    result.notes.append(
        f"upload through the services (not a backup figure): {upload_s:.0f} s, "
        f"{size / 1e9 / upload_s * 60:.1f} GB/min; store {du(data_dir / 'blobs') / 1e9:.2f} GB, "
        f"database {du(data_dir / 'polaris.db') / 1e6:.0f} MB"
    )
    log("Polaris: initial backup")
    result.initial = backup_until_current(data_dir)
    change = change_tree(data, entries, args, work)
    # LTX times are whole seconds and the "current" test allows 1 s: a change written within
    # that of the last replicated transaction would look replicated before Litestream runs.
    time.sleep(2.5)
    log(f"Polaris: uploading the change ({change.bytes / 1e6:.1f} MB)")
    uploader = Uploader(data_dir)
    try:
        for entry in change.added:
            uploader.upload(data, entry)
        for entry in change.modified:
            uploader.upload(data, entry, overwrite=True)
    finally:
        uploader.close()
    polaris_cli("audit", "seal", "--data-dir", str(data_dir), cwd=work)
    log("Polaris: incremental backup")
    result.incremental = backup_until_current(data_dir)
    result.repo_bytes = du(target)
    escrow = work / "escrow"
    escrow.mkdir()
    for name in ("master.key", "audit-signing.key"):
        shutil.copyfile(data_dir / name, escrow / name)
    log("Polaris: restore")
    restored = work / "polaris-restored"
    result.restore, out = polaris_cli(
        "restore",
        "--target",
        str(restored),
        "--from",
        str(target),
        "--master-key-file",
        str(escrow / "master.key"),
        "--audit-key-file",
        str(escrow / "audit-signing.key"),
        cwd=work,
    )
    found = re.search(
        r"blob objects and the database into .* in ([0-9.]+) s", " ".join(out.split())
    )
    if found is None or "storage verify: ok" not in out or "audit verify: ok" not in out:
        raise BenchError(f"polaris restore did not report a verified restore:\n{out}")
    result.restore_only = float(found.group(1))
    result.restore.detail = " ".join(line.strip() for line in out.splitlines()[-4:-1])
    revert_change(data, change)
    for path in (restored, target, data_dir, escrow):
        shutil.rmtree(path)
    return result


_VERSION = "import importlib.metadata as m; print(m.version('polaris'))"


# --- restic and borg -----------------------------------------------------------------------------


def bench_restic(work: Path, data: Path, entries: list[Entry], args: argparse.Namespace) -> Result:
    repo, cache, restored = work / "restic-repo", work / "restic-cache", work / "restic-restored"
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repo),
        "RESTIC_PASSWORD": PASSWORD,
        "RESTIC_CACHE_DIR": str(cache),
    }
    result = Result("restic", run(["restic", "version"]).split()[1])
    run(["restic", "init"], env=env)
    log("restic: initial backup")
    result.initial, _ = timed(["restic", "backup", "--quiet", "."], env=env, cwd=data)
    change = change_tree(data, entries, args, work)
    log("restic: incremental backup")
    result.incremental, _ = timed(["restic", "backup", "--quiet", "."], env=env, cwd=data)
    result.repo_bytes = du(repo)
    config = run(["restic", "cat", "config"], env=env)
    version = re.search(r'"version":\s*(\d+)', config)
    result.notes.append(f"repository version {version.group(1) if version else '?'}")
    log("restic: restore")
    result.restore, _ = timed(
        ["restic", "restore", "latest", "--target", str(restored)], env=env, cwd=work
    )
    check_restored(data, restored, "restic")
    revert_change(data, change)
    for path in (restored, repo, cache):
        shutil.rmtree(path)
    return result


def bench_borg(work: Path, data: Path, entries: list[Entry], args: argparse.Namespace) -> Result:
    repo, base, restored = work / "borg-repo", work / "borg-base", work / "borg-restored"
    env = {
        **os.environ,
        "BORG_PASSPHRASE": PASSWORD,
        "BORG_BASE_DIR": str(base),
        "BORG_DISPLAY_PASSPHRASE": "no",
    }
    result = Result("borg", run(["borg", "--version"]).split()[1])
    run(["borg", "init", "-e", "repokey", str(repo)], env=env)
    log("borg: initial backup")
    result.initial, _ = timed(["borg", "create", f"{repo}::initial", "."], env=env, cwd=data)
    change = change_tree(data, entries, args, work)
    log("borg: incremental backup")
    result.incremental, _ = timed(["borg", "create", f"{repo}::changed", "."], env=env, cwd=data)
    result.repo_bytes = du(repo)
    log("borg: restore")
    restored.mkdir()
    result.restore, _ = timed(["borg", "extract", f"{repo}::changed"], env=env, cwd=restored)
    check_restored(data, restored, "borg")
    revert_change(data, change)
    for path in (restored, repo, base):
        shutil.rmtree(path)
    return result


def check_restored(data: Path, restored: Path, tool: str) -> None:
    """Untimed: the restored tree is the backed-up one, byte for byte."""
    if tree_digest(data) != tree_digest(restored):
        raise BenchError(f"{tool}: the restored files differ from the backed-up ones")


def change_tree(data: Path, entries: list[Entry], args: argparse.Namespace, work: Path) -> Change:
    return apply_change(
        data, entries, args.seed, percent=args.change_percent, saved=work / "changed-originals"
    )


# --- report ---------------------------------------------------------------------------------------


def gb_min(size: int, seconds: float) -> float:
    return size / 1e9 / seconds * 60


def report(
    results: list[Result], entries: list[Entry], change: int, args: argparse.Namespace
) -> None:
    size = sum(entry.size for entry in entries)
    compressible = sum(entry.size for entry in entries if entry.compressible)
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"- machine: {os.cpu_count()} CPUs, Linux {platform.release()}, Python "
        f"{platform.python_version()}; load average at the end {load} (other work shares the "
        f"CPUs); everything in tmpfs ({args.tmp})"
    )
    print(
        f"- data: {len(entries):,} files, {size / 1e9:.2f} GB ({size / (1 << 30):.2f} GiB), "
        f"{compressible / size:.0%} compressible text; change for the incremental "
        f"{change / 1e6:.1f} MB ({change / size:.1%})"
    )
    print(f"- versions: {', '.join(f'{r.tool} {r.version}' for r in results)}")
    print()
    print(
        "| tool | initial backup, s | initial, GB/min | CPU, s | incremental, s | restore, s "
        "| restore, GB/min | stored, GB | stored / data |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        assert r.initial and r.incremental and r.restore
        restore = f"{r.restore.seconds:.1f}"
        rate = f"{gb_min(size, r.restore.seconds):.1f}"
        if r.restore_only is not None:
            restore = f"{r.restore_only:.1f} (+{r.restore.seconds - r.restore_only:.1f} verify)"
            rate = f"{gb_min(size, r.restore_only):.1f} ({rate} with verify)"
        print(
            f"| {r.tool} | {r.initial.seconds:.1f} | {gb_min(size, r.initial.seconds):.1f} "
            f"| {r.initial.cpu:.1f} | {r.incremental.seconds:.1f} | {restore} | {rate} "
            f"| {r.repo_bytes / 1e9:.2f} | {r.repo_bytes / size:.2f} |"
        )
    polaris = next((r for r in results if r.tool == "Polaris"), None)
    peers = [r for r in results if r is not polaris]
    if polaris is not None and peers:
        assert polaris.initial and polaris.incremental and polaris.restore and polaris.restore_only
        print()
        print("| Polaris ÷ | initial GB/min | incremental time | restore GB/min (with verify) "
              "| stored |")  # fmt: skip
        print("| --- | ---: | ---: | ---: | ---: |")
        for peer in peers:
            assert peer.initial and peer.incremental and peer.restore
            print(
                f"| {peer.tool} | {peer.initial.seconds / polaris.initial.seconds:.2f}× "
                f"| {polaris.incremental.seconds / peer.incremental.seconds:.2f}× "
                f"| {peer.restore.seconds / polaris.restore_only:.2f}× "
                f"({peer.restore.seconds / polaris.restore.seconds:.2f}×) "
                f"| {polaris.repo_bytes / peer.repo_bytes:.2f}× |"
            )
    print()
    for r in results:
        assert r.initial and r.incremental and r.restore
        lines = [f"initial: {r.initial.detail}" if r.initial.detail else ""]
        lines.append(f"incremental: {r.incremental.detail}" if r.incremental.detail else "")
        lines.append(
            f"incremental CPU {r.incremental.cpu:.1f} s, restore CPU {r.restore.cpu:.1f} s"
        )
        lines.append(f"restore: {r.restore.detail}" if r.restore.detail else "")
        print(f"- {r.tool}: " + "; ".join(line for line in [*lines, *r.notes] if line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048, help="data set size (2048)")
    parser.add_argument("--change-percent", type=float, default=1.0, help="incremental (1)")
    parser.add_argument("--only", default=",".join(TOOLS), help="a subset of polaris,restic,borg")
    parser.add_argument("--tmp", type=Path, default=Path("/dev/shm"), help="a tmpfs (/dev/shm)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    if not only or any(name not in TOOLS for name in only):
        parser.error(f"--only takes a subset of {','.join(TOOLS)}, not {args.only!r}")
    if args.size_mib < 1 or not 0 < args.change_percent <= 50:
        parser.error("--size-mib must be at least 1 and --change-percent in (0, 50]")
    ensure_debian_packages(
        [{"restic": "restic", "borg": "borgbackup"}[t] for t in only if t != "polaris"]
    )
    benches: dict[str, Callable[[Path, Path, list[Entry], argparse.Namespace], Result]] = {
        "polaris": bench_polaris,
        "restic": bench_restic,
        "borg": bench_borg,
    }
    with temp_tree(args.tmp, args.keep) as work:
        data = work / "data"
        entries = plan(args.size_mib, args.seed)
        log(f"writing {len(entries):,} files ({sum(e.size for e in entries) / 1e9:.2f} GB)")
        write_tree(data, entries, args.seed)
        before = tree_digest(data)
        change = change_tree(data, entries, args, work)
        change_bytes = change.bytes
        revert_change(data, change)
        if tree_digest(data) != before:
            raise BenchError("reverting the change did not give the same files back")
        results = []
        for name in only:
            results.append(benches[name](work, data, entries, args))
            if tree_digest(data) != before:
                raise BenchError(f"{name} left the data set changed")
        report(results, entries, change_bytes, args)


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"bench/backup.py: {error}")
