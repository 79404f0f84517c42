"""The status page's storage check as a job: it cross-checks the database, names the file each
problem breaks, reports progress over objects and references, and audits its outcome."""

from __future__ import annotations

import os

from sqlalchemy import select

import polaris.admin.jobs  # noqa: F401 (registers the verification handlers)
from polaris import jobs
from polaris.admin import verification
from polaris.audit.models import AuditRecord
from polaris.db.uow import transaction
from polaris.drive.models import FileVersion
from polaris.storage import LocalBackend, names
from tests.drive.conftest import CHUNK, Drive
from tests.factories import SYSTEM


def run_storage_check(drive: Drive) -> jobs.Job:
    session = drive.instance.sessions()
    with transaction(session):
        verification.request_check(
            session=session, check="storage", user_id=drive.user_ids["admin"], context=SYSTEM
        )
    session.close()
    assert jobs.run_pending(drive.instance) >= 1
    with drive.instance.sessions() as session:
        view = verification.last_check(session=session, check="storage")
    assert view is not None and view.job.status == jobs.JobStatus.DONE
    return view.job


def test_the_storage_check_names_the_file_a_deleted_manifest_breaks(drive: Drive) -> None:
    node = drive.upload("hc.a1", drive.root("hc.a1"), "FIR 7-2026.pdf", os.urandom(CHUNK + 9))
    drive.upload("hc.a1", drive.root("hc.a1"), "intact.pdf", os.urandom(10))
    with drive.instance.sessions() as session:
        version = session.scalars(
            select(FileVersion).where(FileVersion.node_id == node["id"])
        ).one()
    backend = drive.instance.blobs.backend
    assert isinstance(backend, LocalBackend)
    (backend.root / names.manifest_name(version.manifest_id)).unlink()

    job = run_storage_check(drive)
    result = job.result or {}
    assert result["ok"] is False and result["problems"] == 1 and result["broken_files"] == 1
    assert result["orphan_chunks"] == 0 and result["unreferenced_manifests"] == 0
    [finding] = result["findings"]  # type: ignore[misc]
    assert finding["where"] == names.manifest_name(version.manifest_id)
    assert finding["message"].startswith("missing; breaks space ")
    assert f"/FIR 7-2026.pdf, version 1 (node {node['id']})" in finding["message"]
    # Progress counted the references as well as the objects, and reached its total.
    assert job.progress_total == job.progress_done == result["checked"]
    assert result["references"] == 2
    with drive.instance.sessions() as session:
        [record] = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "storage.verify")
        ).all()
    assert record.reason == "problems_found" and '"broken_files":1' in record.detail.replace(
        " ", ""
    )


def test_a_clean_drive_passes_the_storage_check(drive: Drive) -> None:
    drive.upload("hc.a1", drive.root("hc.a1"), "a.pdf", os.urandom(2 * CHUNK))
    result = run_storage_check(drive).result or {}
    assert result["ok"] is True and result["problems"] == 0 and result["references"] == 1
