"""``polaris import``: a tree of scans into a space, folders kept, every refusal listed with its
reason, idempotent, and resumable after the process is killed."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from polaris.cli.main import app
from polaris.config import load_settings
from polaris.drive.models import Node
from polaris.instance import open_instance

runner = CliRunner()
TARGET = ["--space", "unit:DST-BPL", "--as", "clerk.bpl"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "instance"
    result = runner.invoke(app, ["init", str(directory), "--demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return directory


def image(path: Path, fmt: str, frames: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = [Image.new("L", (300, 400), 255 - 40 * n) for n in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, format=fmt, save_all=frames > 1, append_images=pictures[1:])
    path.write_bytes(out.getvalue())


def names_in(data_dir: Path) -> list[str]:
    """Every live node's path of names, for comparing trees."""
    instance = open_instance(load_settings(data_dir))
    session = instance.sessions()
    nodes = {n.id: n for n in session.scalars(select(Node).where(Node.trashed_at.is_(None)))}
    session.close()
    instance.close()

    def path_of(node: Node) -> str:
        ids = [int(part) for part in node.path.strip("/").split("/")]
        return "/".join(nodes[i].name for i in ids[1:])  # below the space's root

    return sorted(path_of(n) for n in nodes.values() if n.kind == "file")


def run_import(data_dir: Path, tree: Path, summary: Path, *extra: str):  # type: ignore[no-untyped-def]
    args = ["import", str(tree), *TARGET, "--summary", str(summary), "--data-dir", str(data_dir)]
    return runner.invoke(app, [*args, *extra], catch_exceptions=False)


def test_import_keeps_folders_lists_every_refusal_and_a_rerun_skips_what_is_done(
    data_dir: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "अभिलेख"
    image(tree / "1998" / "FIR 12-1998.pdf", "PDF", frames=2)
    image(tree / "1998" / "scan.tiff", "TIFF", frames=3)
    image(tree / "photo.jpg", "JPEG")
    nfd_folder = unicodedata.normalize("NFD", "क़ानून")
    image(tree / nfd_folder / "page.png", "PNG")
    (tree / "notes.txt").write_text("not a scan", encoding="utf-8")
    (tree / "empty.pdf").write_bytes(b"")
    (tree / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a real PDF")
    os.symlink("/etc/passwd", tree / "link.png")
    summary = tmp_path / "summary.json"

    first = run_import(data_dir, tree, summary)

    assert first.exit_code == 1, first.output  # failures exist, and are listed
    report = json.loads(summary.read_text("utf-8"))
    reasons = {f["path"]: (f["stage"], f["reason"]) for f in report["failures"]}
    assert reasons["notes.txt"] == ("scan", "not a scan (TIFF, JPEG, PNG or PDF)")
    assert reasons["empty.pdf"] == ("scan", "an empty file (0 bytes)")
    assert reasons["link.png"] == ("scan", "a symbolic link (not followed)")
    assert reasons["broken.pdf"][0] == "process"
    assert "the PDF cannot be read" in reasons["broken.pdf"][1]
    assert report["imported"] == 5 and report["pages"] == 2 + 3 + 1 + 1 + 1
    expected = [
        "1998/FIR 12-1998.pdf",
        "1998/scan.tiff",
        "broken.pdf",
        "photo.jpg",
        unicodedata.normalize("NFC", "क़ानून") + "/page.png",
    ]
    assert names_in(data_dir) == expected

    again = run_import(data_dir, tree, summary)
    report = json.loads(summary.read_text("utf-8"))
    assert again.exit_code == 1
    assert (report["imported"], report["skipped_already_imported"]) == (0, 5)
    assert names_in(data_dir) == expected  # nothing duplicated

    image(tree / "photo.jpg", "JPEG", frames=1)  # same bytes: still skipped
    (tree / "photo.jpg").write_bytes((tree / "photo.jpg").read_bytes() + b"\0")  # now different
    third = run_import(data_dir, tree, summary, "--no-process")
    report = json.loads(summary.read_text("utf-8"))
    assert third.exit_code == 1
    clash = "a different file of this name is already there"
    assert {"path": "photo.jpg", "stage": "store", "reason": clash} in report["failures"]


def test_a_killed_import_goes_on_where_it_stopped(data_dir: Path, tmp_path: Path) -> None:
    tree = tmp_path / "scans"
    for number in range(8):
        image(tree / f"box {number // 4}" / f"page-{number}.png", "PNG")
    summary = tmp_path / "summary.json"
    command = [
        sys.executable, "-m", "polaris.cli.main", "import", str(tree), *TARGET, "--no-process",
        "--verbose", "--summary", str(summary), "--data-dir", str(data_dir),
    ]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    stored = 0
    for line in child.stdout:
        if line.startswith("imported"):
            stored += 1
            if stored == 3:
                child.send_signal(signal.SIGKILL)
                break
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    partial = names_in(data_dir)
    assert 3 <= len(partial) < 8

    result = run_import(data_dir, tree, summary, "--no-process")
    assert result.exit_code == 0, result.output
    report = json.loads(summary.read_text("utf-8"))
    assert report["imported"] + report["skipped_already_imported"] == 8
    assert report["skipped_already_imported"] == len(partial)
    assert names_in(data_dir) == sorted(f"box {n // 4}/page-{n}.png" for n in range(8))
