"""``polaris storage verify`` and ``gc`` on a real instance after a real import (SQLite and
PostgreSQL): a clean import is ok with nothing unreferenced; each deletion is named with its
file; gc's dry run lists only old unreferenced objects and removes nothing."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from pytest import MonkeyPatch
from sqlalchemy import select

from polaris.config import S3Settings, load_settings
from polaris.drive.models import FileVersion
from polaris.instance import open_instance
from polaris.storage import names
from polaris.storage.refs import ContentRef
from tests.cli.test_cli import cmd, data_dir
from tests.ingest.test_bulk import image
from tests.support.seaweedfs import SeaweedFS

__all__ = ["data_dir"]


def imported(data_dir: Path, tmp_path: Path) -> list[FileVersion]:
    tree = tmp_path / "scans"
    image(tree / "1998" / "FIR 12-1998.pdf", "PDF", frames=2)
    image(tree / "photo.png", "PNG")
    args = ["import", str(tree), "--space", "unit:DST-BPL", "--as", "clerk.bpl"]
    result = cmd(data_dir, *args, "--summary", str(tmp_path / "summary.json"))
    assert result.exit_code == 0, result.output
    instance = open_instance(load_settings(data_dir))
    with instance.sessions() as session:
        versions = list(session.scalars(select(FileVersion).order_by(FileVersion.id)))
    instance.close()
    assert len(versions) == 2
    return versions


def test_a_clean_import_verifies_with_nothing_unreferenced(data_dir: Path, tmp_path: Path) -> None:
    imported(data_dir, tmp_path)
    result = cmd(data_dir, "storage", "verify")
    assert result.exit_code == 0, result.output
    assert "0 unreferenced chunks, 0 unreferenced manifests" in result.output


def test_verify_names_each_deleted_object_with_the_file_it_breaks(
    data_dir: Path, tmp_path: Path
) -> None:
    pdf, png = imported(data_dir, tmp_path)
    blobs = data_dir / "blobs"
    (blobs / names.manifest_name(pdf.manifest_id)).unlink()
    for chunk in ContentRef.from_dict(png.content).chunks:
        (blobs / names.chunk_name(chunk.chunk_id)).unlink()
    result = cmd(data_dir, "storage", "verify")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"{names.manifest_name(pdf.manifest_id)}: missing (breaks space" in output
    assert "/1998/FIR 12-1998.pdf, version 1" in output
    first_chunk = ContentRef.from_dict(png.content).chunks[0].chunk_id
    assert f"{names.chunk_name(first_chunk)}: missing (breaks space" in output
    assert "/photo.png, version 1" in output
    assert "2 of" in output and "have missing or damaged content" in output


def test_verify_fails_when_the_whole_data_directory_is_gone(data_dir: Path, tmp_path: Path) -> None:
    imported(data_dir, tmp_path)
    shutil.rmtree(data_dir / "blobs" / "data")
    result = cmd(data_dir, "storage", "verify")
    assert result.exit_code == 1
    assert "ok:" not in result.output


def test_gc_dry_run_lists_old_garbage_only_and_gc_removes_it(
    data_dir: Path, tmp_path: Path
) -> None:
    imported(data_dir, tmp_path)
    instance = open_instance(load_settings(data_dir))
    garbage = instance.blobs.put_bytes(b"left by an upload that died" * 10)
    young = instance.blobs.put_bytes(b"an upload going on now")
    instance.close()
    month_ago = time.time() - 30 * 86400
    for path in (data_dir / "blobs" / "data").rglob("*"):
        if path.is_file() and path.name != young.chunks[0].chunk_id:
            os.utime(path, (month_ago, month_ago))
    garbage_name = names.chunk_name(garbage.chunks[0].chunk_id)
    size = (data_dir / "blobs" / garbage_name).stat().st_size

    dry = cmd(data_dir, "storage", "gc", "--dry-run")
    assert dry.exit_code == 0, dry.output
    listed = [line for line in dry.output.splitlines() if line.startswith("would remove data/")]
    assert listed == [line for line in listed if garbage_name in line] and len(listed) == 1
    assert f"would remove 1 object(s), {size} bytes" in " ".join(dry.output.split())
    assert (data_dir / "blobs" / garbage_name).exists()

    done = cmd(data_dir, "storage", "gc")
    assert done.exit_code == 0, done.output
    assert f"removed 1 object(s), {size} bytes" in " ".join(done.output.split())
    assert not (data_dir / "blobs" / garbage_name).exists()
    assert cmd(data_dir, "audit", "seal").exit_code == 0  # the export holds sealed records only
    export = cmd(data_dir, "audit", "export")
    lines = export.output.splitlines()
    [gc_record] = [line for line in lines if '"storage.gc"' in line]
    [started] = [n for n, line in enumerate(lines) if '"storage.gc_start"' in line]
    assert started < lines.index(gc_record)  # recorded before anything was removed
    assert '"removed":1' in gc_record.replace(" ", "").replace('\\"', '"')
    after = cmd(data_dir, "storage", "verify")
    assert after.exit_code == 0, after.output
    assert "1 unreferenced chunks" in after.output  # the young one, kept


def test_verify_and_gc_on_s3(
    tmp_path: Path, s3_settings: S3Settings, seaweedfs: SeaweedFS, monkeypatch: MonkeyPatch
) -> None:
    """An instance whose blobs are in S3 (settings from the environment, as a deployment sets
    the secret): verify and gc work there, and an object deleted in the bucket is named."""
    values = s3_settings.model_dump(mode="json") | {
        "secret_access_key": s3_settings.secret_access_key.get_secret_value()  # type: ignore[union-attr]
    }
    monkeypatch.setenv("POLARIS_STORAGE__BACKEND", "s3")
    for key, value in values.items():
        monkeypatch.setenv(f"POLARIS_STORAGE__S3__{key.upper()}", str(value))
    directory = tmp_path / "instance"
    created = cmd(directory, "init", "--demo")
    assert created.exit_code == 0, created.output
    assert not (directory / "blobs").exists()
    lost, _other = imported(directory, tmp_path)
    instance = open_instance(load_settings(directory))
    young = instance.blobs.put_bytes(b"an upload going on now")
    instance.close()

    clean = cmd(directory, "storage", "verify")
    assert clean.exit_code == 0, clean.output
    assert "1 unreferenced chunks" in clean.output
    gc_run = cmd(directory, "storage", "gc")
    assert gc_run.exit_code == 0, gc_run.output
    assert "removed 0 object(s), 0 bytes; kept 1 unreferenced object(s)" in " ".join(
        gc_run.output.split()
    )
    young_key = f"{s3_settings.prefix}/{names.chunk_name(young.chunks[0].chunk_id)}"
    assert seaweedfs.keys(young_key) == [young_key]

    seaweedfs.delete_key(f"{s3_settings.prefix}/{names.manifest_name(lost.manifest_id)}")
    damaged = cmd(directory, "storage", "verify")
    assert damaged.exit_code == 1
    output = " ".join(damaged.output.split())
    assert f"{names.manifest_name(lost.manifest_id)}: missing (breaks space" in output
    assert f"version 1 (node {lost.node_id}))" in output
    assert "1 problem(s)" in output
    refused = cmd(directory, "storage", "gc")
    assert refused.exit_code == 1 and "nothing was removed" in refused.output
