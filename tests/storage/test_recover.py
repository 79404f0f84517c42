"""``polaris recover``: the database is lost for good; the blob store and the master key rebuild
the drive. What can fail: a file at its old name or folder (a rename or move after its last
version), a trashed file back in place, a version lost, reordered or with other bytes, an empty
folder gone, a level lowered, ids that change (the store's records would then name other nodes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from polaris.app import create_app
from polaris.audit.models import AuditRecord
from polaris.backup.replicate import BlobReplicator
from polaris.config import load_settings
from polaris.drive.models import FileVersion, Node, Space
from polaris.handlers import settle
from polaris.identity.models import User
from polaris.instance import open_instance
from polaris.storage import BlobStore, FileMetadata, LocalBackend, names
from polaris.storage.keys import create_master_key_file
from polaris.storage.refs import ContentRef
from tests.cli.test_cli import cmd, invoke
from tests.drive.conftest import Drive, seed

API = "/api/v1"
T0 = dt.datetime(2024, 3, 1, 4, 30, tzinfo=dt.UTC)

#: (space name, path from the space's root, kind, in the trash, own level, version bytes' SHA-256)
Entry = tuple[str, str, str, bool, int, tuple[str, ...]]


def tree(data_dir: Path) -> dict[int, Entry]:
    """Every node but the roots, by id, with its version contents read back through the store."""
    instance = open_instance(load_settings(data_dir))
    try:
        with instance.sessions() as session:
            spaces = {s.id: s.name for s in session.scalars(select(Space))}
            nodes = {n.id: n for n in session.scalars(select(Node))}
            versions: dict[int, list[FileVersion]] = {}
            for version in session.scalars(select(FileVersion).order_by(FileVersion.number)):
                versions.setdefault(version.node_id, []).append(version)
        found = {}
        for node in nodes.values():
            if node.parent_id is None:
                continue
            chain = [nodes[int(i)] for i in node.path.strip("/").split("/")]
            digests = []
            for version in versions.get(node.id, []):
                digest = hashlib.sha256()
                for block in instance.blobs.open_stream(ContentRef.from_dict(version.content)):
                    digest.update(block)
                assert digest.hexdigest() == version.sha256
                digests.append(f"{version.number}:{digest.hexdigest()}:{version.content_type}")
            found[node.id] = (
                spaces[node.space_id],
                "/" + "/".join(n.name for n in chain[1:]),
                node.kind,
                any(n.trashed_at is not None for n in chain),
                node.classification,
                tuple(digests),
            )
        return found
    finally:
        instance.close()


@dataclass
class Lost:
    """What survives the loss: the blob store's directory and the escrowed master key."""

    blobs: Path
    master_key: Path
    before: dict[int, Entry]
    renamed: int
    moved: int


@pytest.fixture
def lost(tmp_path: Path) -> Iterator[Lost]:
    directory = tmp_path / "instance"
    assert invoke("init", str(directory)).exit_code == 0
    instance = open_instance(load_settings(directory))
    try:
        with instance.sessions() as session:
            tokens, user_ids, unit_ids = seed(session)
            session.commit()
        app = create_app(instance, seal_periodically=False, run_jobs=False)
        with TestClient(app, base_url="https://testserver") as client:
            drive = Drive(client, instance, tokens, user_ids, unit_ids)
            renamed, moved = build(drive)
        settle(instance)  # the consumers and their jobs: the placement records are written
    finally:
        instance.close()
    before = tree(directory)
    escrow = tmp_path / "escrow"
    escrow.mkdir()
    shutil.copyfile(directory / "master.key", escrow / "master.key")
    (escrow / "master.key").chmod(0o600)
    shutil.move(directory / "blobs", tmp_path / "blobs")
    shutil.rmtree(directory)  # the database, the settings, the audit log: gone for good
    yield Lost(tmp_path / "blobs", escrow / "master.key", before, renamed, moved)


def build(drive: Drive) -> tuple[int, int]:
    """Nested folders with Hindi names, several versions, a rename and a move after the last
    version, a renamed folder, a trashed file and folder, an empty folder, a level above the
    space's, a personal space. Returns the ids of the renamed and the moved file."""
    unit = drive.root("hc.a1", "unit")
    cases = drive.folder("hc.a1", unit, "केस फ़ाइलें")["id"]
    year = drive.folder("hc.a1", cases, "2025")["id"]
    fir = drive.folder("hc.a1", year, "FIR")["id"]
    drive.folder("hc.a1", cases, "खाली")  # empty: only a placement record knows it
    report = drive.upload("hc.a1", fir, "प्राथमिकी 12-2025.txt", "पहला मसौदा".encode())["id"]
    for text in ("दूसरा मसौदा", "अंतिम प्रति"):
        response = drive.put("hc.a1", f"{API}/files/{report}/content", content=text.encode())
        assert response.status_code == 200, response.text
    statement = drive.upload("hc.a1", fir, "statement.txt", b"witness statement")["id"]
    notes = drive.upload("hc.a1", fir, "notes.txt", b"case notes, v1")["id"]
    response = drive.put("hc.a1", f"{API}/files/{notes}/content", content=b"case notes, v2")
    assert response.status_code == 200, response.text
    draft = drive.upload("hc.a1", year, "draft.txt", b"a draft")["id"]
    old = drive.folder("hc.a1", cases, "पुराना")["id"]
    drive.upload("hc.a1", old, "a.txt", b"in a deleted folder")
    drive.upload("si.a1", cases, "गोपनीय.txt", b"confidential", classification="confidential")
    mine = drive.root("hc.a1", "user")
    drive.upload("hc.a1", drive.folder("hc.a1", mine, "निजी")["id"], "diary.txt", b"my diary")
    # After the last versions: what no manifest can know.
    patch = drive.patch("hc.a1", f"{API}/nodes/{statement}", json={"name": "बयान.txt"})
    assert patch.status_code == 200, patch.text
    patch = drive.patch("sho.a1", f"{API}/nodes/{notes}", json={"parent_id": year})
    assert patch.status_code == 200, patch.text
    patch = drive.patch("hc.a1", f"{API}/nodes/{year}", json={"name": "वर्ष 2025"})
    assert patch.status_code == 200, patch.text
    for node in (draft, old):
        assert drive.delete("sho.a1", f"{API}/nodes/{node}").status_code == 204
    return statement, notes


def recover(lost: Lost, target: Path, *extra: str):  # type: ignore[no-untyped-def]
    return invoke(
        "recover", "--blobs", str(lost.blobs), "--target", str(target),
        "--master-key-file", str(lost.master_key), *extra,
    )  # fmt: skip


@pytest.mark.slow
def test_the_store_alone_rebuilds_the_tree(lost: Lost, tmp_path: Path) -> None:
    target = tmp_path / "recovered"
    result = recover(lost, target)
    assert result.exit_code == 0, result.output
    after = tree(target)
    # The same ids, names, places, trash, levels, and every version's bytes in order.
    assert after == lost.before
    assert after[lost.renamed][1] == "/केस फ़ाइलें/वर्ष 2025/FIR/बयान.txt"
    assert after[lost.moved][1] == "/केस फ़ाइलें/वर्ष 2025/notes.txt"
    report = next(e for e in after.values() if e[1].endswith("प्राथमिकी 12-2025.txt"))
    assert [digest[:2] for digest in report[5]] == ["1:", "2:", "3:"]
    assert sum(1 for e in after.values() if e[3]) == 3  # draft, the folder and what is in it
    output = " ".join(result.output.split())
    assert "storage verify: ok" in output and "audit verify: ok" in output
    assert cmd(target, "storage", "verify").exit_code == 0
    # The recovery wrote records only where the manifests alone would not place a node (the
    # four files placed by their manifests have none); the command writes those, then nothing.
    assert "placement records written: 4" in cmd(target, "storage", "placements").output
    assert "placement records written: 0" in cmd(target, "storage", "placements").output
    instance = open_instance(load_settings(target))
    try:
        with instance.sessions() as session:
            [record] = session.scalars(
                select(AuditRecord).where(AuditRecord.action == "instance.recover")
            )
            detail = record.detail_value
            assert (detail["files"], detail["versions"], detail["problems"]) == (7, 10, 0)
            owners = {u.username: u.disabled_at is not None for u in session.scalars(select(User))}
        assert owners == {"hc.a1": True, "recovery-admin": False}
    finally:
        instance.close()
    # A second recovery from the recovered instance's store finds the same tree.
    again = invoke(
        "recover", "--blobs", str(target / "blobs"), "--target", str(tmp_path / "again"),
        "--master-key-file", str(lost.master_key),
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert tree(tmp_path / "again") == lost.before


@pytest.mark.slow
def test_without_placement_records_a_rename_after_the_last_version_is_lost(
    lost: Lost, tmp_path: Path
) -> None:
    shutil.rmtree(lost.blobs / "data" / "placements")
    result = recover(lost, tmp_path / "recovered")
    after = tree(tmp_path / "recovered")
    assert after[lost.renamed][1] != lost.before[lost.renamed][1]  # statement.txt, not बयान.txt
    assert after[lost.renamed][1].endswith("/FIR/statement.txt")
    assert after[lost.moved][1].endswith("/FIR/notes.txt")
    assert result.exit_code == 0, result.output


def legacy_store(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A store as bad as one can be read: manifests only (written before placement records, or
    by hand), one damaged, two claiming one path, names with NUL and a bidirectional override,
    two manifests of one version. Returns (blobs, master key, manifest ids by role)."""
    key = tmp_path / "master.key"
    store = BlobStore.initialise(LocalBackend(tmp_path / "blobs"), create_master_key_file(key))

    def put(node: int, name: str, path: str, data: bytes, minutes: int, version: int = 1) -> str:
        meta = FileMetadata(
            name=name, created_at=T0 + dt.timedelta(minutes=minutes), path=path, space_id=7,
            node_id=node, version_id=f"{node}.{version}", content_type="text/plain",
            classification="restricted", extra={"space": "PS कोतवाली", "version": version},
        )  # fmt: skip
        return store.write_manifest(store.put_bytes(data), meta)

    ids = {
        "damaged": put(10, "lost.txt", "/FIR/lost.txt", b"unreadable", 1),
        "first": put(11, "a.txt", "/FIR/a.txt", b"first a", 2),
        "second": put(12, "a.txt", "/FIR/a.txt", b"second a", 3),
        "bidi": put(13, "report\u202efdp.exe", "/FIR/report\u202efdp.exe", b"exe?", 4),
        "nul": put(14, "nul\x00.txt", "/FIR/nul\x00.txt", b"nul", 5),
        "early": put(15, "v.txt", "/v.txt", b"never committed", 6),
        "late": put(15, "v.txt", "/v.txt", b"committed", 7),
    }
    path = tmp_path / "blobs" / names.manifest_name(ids["damaged"])
    damaged = bytearray(path.read_bytes())
    damaged[30] ^= 1
    path.write_bytes(bytes(damaged))
    return tmp_path / "blobs", key, ids


def test_bad_input_is_placed_in_lost_found_and_listed_never_dropped(tmp_path: Path) -> None:
    blobs, key, ids = legacy_store(tmp_path / "old")
    target = tmp_path / "recovered"
    result = invoke(
        "recover", "--blobs", str(blobs), "--target", str(target), "--master-key-file", str(key)
    )
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    damaged = names.manifest_name(ids["damaged"])
    assert f"problem: {damaged}: authentication failed" in output
    assert "is also the name of node 12 in the same folder; recovered in lost+found" in output
    assert "'report\\u202efdp.exe'" in output and "'nul\\u0000.txt'" in output
    assert "claims version 1 of node 15" in output
    assert "\u202e" not in output and "\x00" not in output  # named, never obeyed
    assert "recovered, with 5 problem(s)" in output
    # The verify of the new instance finds the one damaged object, and nothing else.
    assert "storage verify: FAILED" in output and "1 problem" in output
    report = (target / "recovery-report.txt").read_text(encoding="utf-8")
    assert damaged in report and "problems (5)" in report
    assert (target / "recovery-report.txt").stat().st_mode & 0o777 == 0o600
    paths = {entry[1]: entry for entry in tree(target).values()}
    assert set(paths) == {
        "/FIR", "/FIR/a.txt", "/FIR/report_fdp.exe", "/FIR/nul_.txt", "/v.txt",
        "/lost+found", "/lost+found/a.txt", "/lost+found/v.txt (node 15 version 1)",
    }  # fmt: skip
    digest = hashlib.sha256
    assert paths["/FIR/a.txt"][5][0].split(":")[1] == digest(b"second a").hexdigest()
    assert paths["/lost+found/a.txt"][5][0].split(":")[1] == digest(b"first a").hexdigest()
    assert paths["/v.txt"][5][0].split(":")[1] == digest(b"committed").hexdigest()
    assert paths["/FIR/a.txt"][4] == 1  # restricted, as the manifest said


@pytest.mark.slow
def test_a_backup_target_is_read_through_its_blobs_part(lost: Lost, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    BlobReplicator(
        LocalBackend(lost.blobs), LocalBackend(backup / "blobs"), state_dir=tmp_path / "state"
    ).run_pass(full=True)
    result = invoke(
        "recover", "--blobs", str(backup), "--target", str(tmp_path / "new"),
        "--master-key-file", str(lost.master_key), "--in-place",
    )  # fmt: skip
    assert result.exit_code == 1 and "is a backup target: it stays a backup" in result.output
    assert not (tmp_path / "new").exists()
    result = recover(lost, tmp_path / "new")
    assert result.exit_code == 0, result.output
    again = invoke(
        "recover", "--blobs", str(backup), "--target", str(tmp_path / "from-backup"),
        "--master-key-file", str(lost.master_key),
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "(backup target)" in again.output
    assert tree(tmp_path / "from-backup") == lost.before


def test_refusals_write_nothing(tmp_path: Path) -> None:
    blobs, key, _ = legacy_store(tmp_path / "old")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    new = tmp_path / "new"

    def recover_into(target: Path, *args: str):  # type: ignore[no-untyped-def]
        return invoke("recover", "--target", str(target), *args)

    result = recover_into(full, "--blobs", str(blobs), "--master-key-file", str(key))
    assert result.exit_code == 1 and "is not empty" in result.output
    nowhere = str(tmp_path / "nowhere")
    result = recover_into(new, "--blobs", nowhere, "--master-key-file", str(key))
    assert result.exit_code == 1 and "no blob store at" in result.output
    other = tmp_path / "other.key"
    create_master_key_file(other)
    result = recover_into(new, "--blobs", str(blobs), "--master-key-file", str(other))
    assert result.exit_code == 1 and "master key" in result.output, result.output
    result = recover_into(
        new, "--blobs", str(blobs), "--master-key-file", str(key), "--admin", "Not Valid!"
    )
    assert result.exit_code == 1 and "username 'Not Valid!'" in result.output, result.output
    assert not new.exists() and not (tmp_path / "nowhere").exists()
