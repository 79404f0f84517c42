"""Bulk import of scanned archives: a directory tree of TIFF, JPEG, PNG and PDF files into a space.

Three stages, each reporting progress:

1. **scan** the tree: every file is either to be imported or listed with the reason it is not
   (not a scan, empty, a symbolic link, unreadable) — nothing is skipped silently;
2. **store** each file as the importing user, keeping the folder structure. A file whose name is
   already in its folder with the same content was imported before and is skipped, so a re-run
   after a crash or a kill goes on where it stopped; a different file under that name is a failure
   (never overwritten);
3. **process**: hand the imports' events to the change stream's consumers (which queue the
   previews and text of each version) and run the background jobs (previews, text, OCR) here,
   with several threads, until each is done or failed; failures are listed with the job's reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import unicodedata
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlalchemy.orm import Session

from polaris import events, jobs
from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.db.uow import unit_of_work
from polaris.drive import content, service
from polaris.errors import PolarisError
from polaris.ingest.consumers import CONSUMER as DERIVATIONS
from polaris.instance import Instance
from polaris.jobs.models import JobStatus
from polaris.storage.writer import ContentTooLarge

SCAN_SUFFIXES = frozenset({".tif", ".tiff", ".jpg", ".jpeg", ".png", ".pdf"})
READ_PIECE = 1024 * 1024
NOT_A_SCAN = "not a scan (TIFF, JPEG, PNG or PDF)"


@dataclass(frozen=True)
class ScanFile:
    path: Path
    relative: PurePosixPath
    size: int
    pages: int | None  # None when the file cannot be opened to count them


@dataclass(frozen=True)
class Failure:
    relative: str
    stage: str  # scan | store | process
    reason: str


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    #: Version ids to process, with their page counts (1 when unknown).
    versions: dict[int, tuple[str, int]] = field(default_factory=dict)
    pages_done: int = 0
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def as_dict(self) -> dict[str, object]:
        minutes = (dt.datetime.now(dt.UTC) - self.started).total_seconds() / 60
        return {
            "imported": self.imported,
            "skipped_already_imported": self.skipped,
            "failed": len(self.failures),
            "pages": sum(pages for _, pages in self.versions.values()),
            "minutes": round(minutes, 2),
            "failures": [
                {"path": f.relative, "stage": f.stage, "reason": f.reason} for f in self.failures
            ],
        }


def count_pages(path: Path) -> int | None:
    """Pages of a scan without drawing them; None when the file cannot be opened."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            import pypdfium2 as pdfium

            document = pdfium.PdfDocument(str(path))
            try:
                return len(document)
            finally:
                document.close()
        from PIL import Image

        with Image.open(path) as picture:
            return int(getattr(picture, "n_frames", 1)) if picture.format == "TIFF" else 1
    except Exception:  # any unreadable scan: its job will fail and say why
        return None


def scan(root: Path) -> tuple[list[ScanFile], list[Failure]]:
    """Every file under ``root`` (sorted, symbolic links not followed): to import, or why not."""
    found: list[ScanFile] = []
    failures: list[Failure] = []
    for directory, subdirectories, names in os.walk(root, followlinks=False, onerror=None):
        subdirectories.sort()
        here = Path(directory)
        for name in subdirectories:
            if (here / name).is_symlink():
                failures.append(
                    Failure(_relative(root, here / name), "scan", "a symbolic link (not followed)")
                )
        for name in sorted(names):
            path = here / name
            relative = _relative(root, path)
            if path.is_symlink():
                failures.append(Failure(relative, "scan", "a symbolic link (not followed)"))
                continue
            if path.suffix.lower() not in SCAN_SUFFIXES:
                failures.append(Failure(relative, "scan", NOT_A_SCAN))
                continue
            try:
                size = path.stat().st_size
            except OSError as error:
                failures.append(Failure(relative, "scan", f"cannot be read: {error.strerror}"))
                continue
            if size == 0:
                failures.append(Failure(relative, "scan", "an empty file (0 bytes)"))
                continue
            found.append(ScanFile(path, PurePosixPath(relative), size, count_pages(path)))
    return found, failures


def _relative(root: Path, path: Path) -> str:
    return unicodedata.normalize("NFC", path.relative_to(root).as_posix())


class Importer:
    """Stores scanned files into one folder of a space as one user (see the module docstring)."""

    def __init__(
        self, instance: Instance, *, actor: Actor, context: AuditContext, folder_id: int
    ) -> None:
        self._instance = instance
        self._actor = actor
        self._context = context
        self._folder_id = folder_id
        self._folders: dict[PurePosixPath, int] = {PurePosixPath("."): folder_id}

    def store_all(
        self,
        files: list[ScanFile],
        report: ImportReport,
        on_file: Callable[[ScanFile, str], None] | None = None,
    ) -> None:
        for item in files:
            outcome = self._store(item, report)
            if on_file is not None:
                on_file(item, outcome)

    def _store(self, item: ScanFile, report: ImportReport) -> str:
        relative = item.relative.as_posix()
        try:
            parent_id = self._folder_for(item.relative.parent)
            existing = self._existing(parent_id, item.relative.name)
            if existing is not None:
                node_sha256, version_id = existing
                if node_sha256 == _sha256_of(item.path):
                    report.skipped += 1
                    if version_id is not None:
                        report.versions[version_id] = (relative, item.pages or 1)
                    return "skipped"
                report.failures.append(
                    Failure(relative, "store", "a different file of this name is already there")
                )
                return "failed"
            version_id = self._upload(item, parent_id)
        except PolarisError as error:
            report.failures.append(Failure(relative, "store", error.detail))
            return "failed"
        except OSError as error:
            report.failures.append(Failure(relative, "store", f"cannot be read: {error}"))
            return "failed"
        except ContentTooLarge as error:
            report.failures.append(Failure(relative, "store", str(error)))
            return "failed"
        report.imported += 1
        report.versions[version_id] = (relative, item.pages or 1)
        return "imported"

    def _folder_for(self, directory: PurePosixPath) -> int:
        if directory in self._folders:
            return self._folders[directory]
        parent_id = self._folder_for(directory.parent)
        with self._unit_of_work() as session:
            located, _ = service.ensure_folder(
                session=session,
                actor=self._actor,
                context=self._context,
                parent_id=parent_id,
                name=unicodedata.normalize("NFC", directory.name),
            )
            folder_id = located.node.id
        self._folders[directory] = folder_id
        return folder_id

    def _existing(self, parent_id: int, name: str) -> tuple[str | None, int | None] | None:
        with self._unit_of_work() as session:
            found = service.find_child(
                session=session,
                actor=self._actor,
                context=self._context,
                parent_id=parent_id,
                name=unicodedata.normalize("NFC", name),
            )
            if found is None:
                return None
            return found.node.sha256, found.node.current_version_id

    def _upload(self, item: ScanFile, parent_id: int) -> int:
        """Stream the file to the blob store, then record it in one transaction."""
        blobs = self._instance.blobs
        writer = blobs.writer(limit=self._instance.settings.drive.max_file_bytes)
        with item.path.open("rb") as source:
            while piece := source.read(READ_PIECE):
                writer.write(piece)
        stored = writer.finish()
        with self._unit_of_work() as session:
            _, version, _ = content.commit_upload(
                session=session,
                actor=self._actor,
                context=self._context,
                blobs=blobs,
                content=stored,
                parent_id=parent_id,
                name=unicodedata.normalize("NFC", item.relative.name),
            )
            return version.id

    def _unit_of_work(self) -> AbstractContextManager[Session]:
        return unit_of_work(self._instance.sessions)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while piece := source.read(READ_PIECE):
            digest.update(piece)
    return digest.hexdigest()


def process(
    instance: Instance,
    report: ImportReport,
    *,
    threads: int,
    on_progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run consumers and jobs here until every job of the imported versions is done or failed.

    Progress is in pages: a version's pages count as done when all its jobs are finished. A
    version has no job until ingest's consumer has read its event, so nothing is counted before
    that consumer has read the stream up to where it stood when the processing began (a consumer
    that keeps failing holds the count still: ``polaris events status`` shows its error).
    """
    stop = stop or threading.Event()
    total = sum(pages for _, pages in report.versions.values())
    pending = dict(report.versions)
    done_pages = 0
    idle = threading.Event()

    def work() -> None:
        while not stop.is_set() and pending:
            if not jobs.run_one(instance):
                idle.wait(0.5)  # nothing due now: a retry waits for its backoff

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    events.drain(instance.sessions, raise_errors=False)
    with instance.sessions() as session:
        stored_through = events.head_position(session)
    try:
        while pending and not stop.is_set():
            events.drain(instance.sessions, raise_errors=False)  # what the jobs stored follows
            if not _derivations_asked(instance, stored_through):
                idle.wait(0.5)
                continue
            finished = _finished_versions(instance, list(pending))
            for version_id, error in finished.items():
                relative, pages = pending.pop(version_id)
                done_pages += pages
                if error is not None:
                    report.failures.append(Failure(relative, "process", error))
            report.pages_done = done_pages
            if on_progress is not None:
                on_progress(done_pages, total)
            if pending:
                idle.wait(0.5)
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def _derivations_asked(instance: Instance, through: int) -> bool:
    """Whether ingest's consumer has queued the jobs of every version stored up to ``through``."""
    with instance.sessions() as session:
        position = events.consumer_position(session, DERIVATIONS)
    return position is not None and position >= through


def _finished_versions(instance: Instance, version_ids: list[int]) -> dict[int, str | None]:
    """Versions whose jobs are all finished: None when all succeeded, else the first error."""
    with unit_of_work(instance.sessions) as session:
        by_version = jobs.jobs_for_subjects(session, "file_version", version_ids)
    finished: dict[int, str | None] = {}
    for version_id in version_ids:
        found = by_version.get(version_id, [])
        if any(job.status in (JobStatus.QUEUED, JobStatus.RUNNING) for job in found):
            continue
        errors = [f"{job.kind}: {job.error}" for job in found if job.status == JobStatus.FAILED]
        finished[version_id] = errors[0] if errors else None
    return finished
