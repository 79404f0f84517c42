"""Retention rules and legal holds: each rule expires exactly what it should at a given time (the
pass is handed ``now``; nothing waits), the longest keep wins, the current version stays, the
quota follows, a hold blocks every purge and expiry until lifted, and only administrators manage
either (refusals audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.drive import retention, retention_run
from polaris.drive._locate import locate
from polaris.drive.models import FileVersion, Node
from polaris.errors import Conflict
from tests.drive.conftest import Drive
from tests.support.events import EventLog

API = "/api/v1"
YEAR = dt.timedelta(days=366)
DAY = dt.timedelta(days=1)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def rule(drive: Drive, **body: object) -> dict[str, Any]:
    return dict(ok(drive.put("admin", f"{API}/admin/retention/rules", json=body)))


def version_ids(drive: Drive, who: str, node_id: int) -> list[int]:
    listed = ok(drive.get(who, f"{API}/files/{node_id}/versions"))
    return sorted(item["id"] for item in listed)


def file_with_versions(drive: Drive, parent: int, name: str, made: list[dt.datetime]) -> list[int]:
    """A file of ``hc.a1`` with one 10-byte version per time in ``made`` (oldest first)."""
    node = drive.upload("hc.a1", parent, name, b"0" * 10)["id"]
    for number in range(1, len(made)):
        ok(drive.put("hc.a1", f"{API}/files/{node}/content", content=str(number).encode() * 10))
    ids = version_ids(drive, "hc.a1", node)
    with unit_of_work(drive.instance.sessions) as session:
        for version_id, at in zip(ids, made, strict=True):
            session.execute(
                update(FileVersion).where(FileVersion.id == version_id).values(created_at=at)
            )
    return [node, *ids]


def years(moment: dt.datetime, count: int) -> dt.datetime:
    """``count`` calendar years after ``moment`` (before, when negative)."""
    return retention.years_before(moment, -count)


def run(drive: Drive, now: dt.datetime) -> retention_run.Outcome:
    return retention_run.run(drive.instance.sessions, now=now)


def test_keep_versions_expires_exactly_the_versions_superseded_long_enough_ago(
    drive: Drive,
) -> None:
    t0 = utcnow()
    space = int(drive.space("hc.a1")["id"])
    node, v1, v2, v3 = file_with_versions(
        drive, drive.root("hc.a1"), "fir.txt", [years(t0, -3), years(t0, -1), t0]
    )
    assert drive.used_bytes("hc.a1") == 30
    assert run(drive, t0 + 10 * YEAR).expired_versions == 0  # no rule: everything is kept
    rule(drive, space_id=space, keep_versions_years=2)
    log = EventLog(drive.instance.sessions)

    # v1 stopped being current when v2 was made (t0 - 1 year): kept until t0 + 1 year.
    assert run(drive, years(t0, 1) - dt.timedelta(seconds=1)).expired_versions == 0
    outcome = run(drive, years(t0, 1))
    assert (outcome.expired_versions, outcome.released_bytes) == (1, 10)
    assert version_ids(drive, "hc.a1", node) == [v2, v3]
    assert drive.used_bytes("hc.a1") == 20
    assert log.take() == [
        (
            "version.expired",
            ("version", v1),
            space,
            {"node_id": node, "parent_id": drive.root("hc.a1"), "level": 0},
        )
    ]

    # Centuries later only the current version is left, whatever its age.
    assert run(drive, t0 + 100 * YEAR).expired_versions == 1
    assert version_ids(drive, "hc.a1", node) == [v3]
    assert drive.get("hc.a1", f"{API}/files/{node}/content").content == b"2" * 10
    assert drive.used_bytes("hc.a1") == 10
    assert run(drive, t0 + 100 * YEAR).expired_versions == 0
    with drive.instance.sessions() as session:
        actions = session.scalars(
            select(AuditRecord.action).where(
                AuditRecord.action == "file.expire_version", AuditRecord.object_id == str(node)
            )
        ).all()
    assert len(actions) == 2


def test_the_current_version_is_never_expired(drive: Drive) -> None:
    node, only = file_with_versions(drive, drive.root("hc.a1"), "one.txt", [utcnow() - 50 * YEAR])
    rule(drive, space_id=int(drive.space("hc.a1")["id"]), keep_versions_years=1)
    assert run(drive, utcnow() + 50 * YEAR).expired_versions == 0
    assert version_ids(drive, "hc.a1", node) == [only]
    with pytest.raises(Conflict) as raised, unit_of_work(drive.instance.sessions) as session:
        located = locate(session, node)
        assert located is not None
        retention_run.expire_version(
            session=session,
            actor=None,
            context=AuditContext.system("test"),
            located=located,
            version=session.get_one(FileVersion, only),
        )
    assert raised.value.code == "current_version"
    assert drive.used_bytes("hc.a1") == 10


def test_the_longest_keep_wins(drive: Drive) -> None:
    t0 = utcnow()
    root = drive.root("hc.a1")
    space = int(drive.space("hc.a1")["id"])
    cases = drive.folder("hc.a1", root, "cases")["id"]
    secret = ok(
        drive.post(
            "hc.a1",
            f"{API}/nodes/{root}/folders",
            json={"name": "r", "classification": "restricted"},
        ),
        201,
    )["id"]
    made = [t0 - 4 * YEAR, t0 - 3 * YEAR]  # the old version was superseded 3 years ago
    plain, plain_old, _ = file_with_versions(drive, root, "a.txt", made)
    in_cases, cases_old, _ = file_with_versions(drive, cases, "b.txt", made)
    restricted, restricted_old, _ = file_with_versions(drive, secret, "c.txt", made)
    rule(drive, space_id=space, keep_versions_years=1)
    rule(drive, folder_id=cases, keep_versions_years=5)
    rule(drive, classification="restricted", keep_versions_years=4)
    rule(drive, classification="secret", keep_versions_years=50)  # applies to none of them

    assert run(drive, t0).expired_versions == 1  # only the space's 1 year applies to a.txt
    assert plain_old not in version_ids(drive, "hc.a1", plain)
    assert cases_old in version_ids(drive, "hc.a1", in_cases)
    assert restricted_old in version_ids(drive, "hc.a1", restricted)
    assert run(drive, t0 + YEAR + DAY).expired_versions == 1  # restricted: 4 years, not 1
    assert restricted_old not in version_ids(drive, "hc.a1", restricted)
    assert cases_old in version_ids(drive, "hc.a1", in_cases)
    assert run(drive, t0 + 2 * YEAR + DAY).expired_versions == 1  # the folder's 5 years
    assert cases_old not in version_ids(drive, "hc.a1", in_cases)


def trash(drive: Drive, node_id: int, at: dt.datetime) -> None:
    ok(drive.delete("hc.a1", f"{API}/nodes/{node_id}"), 204)
    with unit_of_work(drive.instance.sessions) as session:
        session.execute(update(Node).where(Node.id == node_id).values(trashed_at=at))


def in_trash(drive: Drive) -> list[int]:
    listed = ok(drive.get("hc.a1", f"{API}/spaces/{drive.space('hc.a1')['id']}/trash"))
    return sorted(item["id"] for item in listed)


def test_purge_trash_after_days_and_the_longest_keep_inside_the_subtree(drive: Drive) -> None:
    t0 = utcnow()
    root = drive.root("hc.a1")
    space = int(drive.space("hc.a1")["id"])
    loose = drive.upload("hc.a1", root, "loose.txt", b"x" * 100)["id"]
    box = drive.folder("hc.a1", root, "box")["id"]
    inner = drive.folder("hc.a1", box, "inner")["id"]
    drive.upload("hc.a1", inner, "kept.txt", b"y" * 7)
    rule(drive, space_id=space, purge_trash_days=30)
    rule(drive, folder_id=inner, purge_trash_days=90)
    trash(drive, loose, t0)
    trash(drive, box, t0)
    log = EventLog(drive.instance.sessions)

    assert run(drive, t0 + 30 * DAY - dt.timedelta(minutes=1)).purged_nodes == 0
    outcome = run(drive, t0 + 30 * DAY)
    assert (outcome.purged_nodes, outcome.released_bytes) == (1, 100)
    assert in_trash(drive) == [box]  # a folder inside it keeps it 90 days
    assert drive.used_bytes("hc.a1") == 7
    [purged] = log.take("node.purged")
    assert purged[1] == ("node", loose)

    assert run(drive, t0 + 90 * DAY).purged_nodes == 3
    assert in_trash(drive) == []
    assert drive.used_bytes("hc.a1") == 0
    assert len(log.take("node.purged")) == 3


def hold(
    drive: Drive, node_id: int, reason: str = "court order 12/2026", who: str = "admin"
) -> Any:
    return drive.post(who, f"{API}/admin/nodes/{node_id}/hold", json={"reason": reason})


def release(drive: Drive, node_id: int, who: str = "admin") -> Any:
    return drive.post(who, f"{API}/admin/nodes/{node_id}/release", json={"reason": "case closed"})


def test_a_legal_hold_blocks_expiry_retention_and_manual_purge_until_lifted(drive: Drive) -> None:
    t0 = utcnow()
    root = drive.root("hc.a1")
    space = int(drive.space("hc.a1")["id"])
    evidence = drive.folder("hc.a1", root, "evidence")["id"]
    sub = drive.folder("hc.a1", evidence, "sub")["id"]
    node, old, _ = file_with_versions(drive, sub, "cctv.txt", [t0 - 5 * YEAR, t0 - 4 * YEAR])
    rule(drive, space_id=space, keep_versions_years=1, purge_trash_days=1)
    log = EventLog(drive.instance.sessions)

    placed = ok(hold(drive, sub), 201)
    assert placed["reason"] == "court order 12/2026"
    assert log.take() == [
        (
            "node.held",
            ("node", sub),
            space,
            {"parent_id": evidence, "level": 0, "hold_id": placed["id"]},
        )
    ]
    assert hold(drive, sub).json()["code"] == "already_held"
    assert [h["node_id"] for h in ok(drive.get("admin", f"{API}/admin/holds"))] == [sub]

    outcome = run(drive, t0)
    assert (outcome.expired_versions, outcome.held) == (0, 1)
    assert old in version_ids(drive, "hc.a1", node)

    trash(drive, evidence, t0 - 10 * DAY)  # the hold is inside what is deleted
    assert run(drive, t0).purged_nodes == 0
    refused = drive.delete("admin", f"{API}/admin/nodes/{evidence}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "legal_hold"
    assert in_trash(drive) == [evidence]
    with drive.instance.sessions() as session:
        denial = session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "node.purge", AuditRecord.decision == "deny"
            )
        ).one()
    assert (denial.object_id, denial.reason) == (str(evidence), "legal_hold")

    lifted = ok(release(drive, sub))
    assert lifted["released_at"] is not None
    assert lifted["release_reason"] == "case closed"
    assert release(drive, sub).json()["code"] == "not_held"
    assert [e[0] for e in log.take()] == ["node.trashed", "node.released"]
    assert ok(drive.get("admin", f"{API}/admin/holds")) == []

    outcome = run(drive, t0)
    assert (outcome.expired_versions, outcome.purged_nodes) == (1, 3)
    assert in_trash(drive) == []
    assert drive.used_bytes("hc.a1") == 0


def test_only_administrators_manage_rules_and_holds_and_refusals_are_audited(
    drive: Drive,
) -> None:
    space = int(drive.space("hc.a1")["id"])
    file = drive.upload("hc.a1", drive.root("hc.a1"), "a.txt", b"abc")["id"]
    for who in ("hc.a1", "sho.a1", "sdop.a"):
        refused = [
            drive.put(
                who, f"{API}/admin/retention/rules", json={"space_id": space, "purge_trash_days": 1}
            ),
            drive.get(who, f"{API}/admin/retention/rules"),
            hold(drive, file, who=who),
            release(drive, file, who=who),
            drive.get(who, f"{API}/admin/holds"),
        ]
        assert [r.status_code for r in refused] == [403] * 5, who
        assert {r.json()["code"] for r in refused} == {"admin_required"}
    with drive.instance.sessions() as session:
        denials = session.scalars(
            select(AuditRecord.object_id).where(
                AuditRecord.action == "access.admin", AuditRecord.decision == "deny"
            )
        ).all()
    assert f"POST /api/v1/admin/nodes/{file}/hold" in denials
    assert "PUT /api/v1/admin/retention/rules" in denials
    assert ok(drive.get("admin", f"{API}/admin/retention/rules")) == []
    assert ok(drive.get("admin", f"{API}/admin/holds")) == []


def test_rules_are_validated_changed_in_place_and_deleted_audited(drive: Drive) -> None:
    space = int(drive.space("hc.a1")["id"])
    file = drive.upload("hc.a1", drive.root("hc.a1"), "a.txt", b"abc")["id"]
    url = f"{API}/admin/retention/rules"
    assert drive.put("admin", url, json={"space_id": space}).status_code == 422
    assert drive.put("admin", url, json={"keep_versions_years": 1}).status_code == 422
    both = {"space_id": space, "classification": "secret", "keep_versions_years": 1}
    assert drive.put("admin", url, json=both).status_code == 422
    on_file = drive.put("admin", url, json={"folder_id": file, "keep_versions_years": 1})
    assert on_file.json()["code"] == "not_a_folder"
    first = rule(drive, space_id=space, keep_versions_years=7)
    second = rule(drive, space_id=space, purge_trash_days=30)
    assert second["id"] == first["id"]
    assert (second["keep_versions_years"], second["purge_trash_days"]) == (None, 30)
    ok(drive.delete("admin", f"{url}/{first['id']}"), 204)
    assert drive.delete("admin", f"{url}/{first['id']}").status_code == 404
    with drive.instance.sessions() as session:
        actions = session.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.object_type == "retention_rule")
            .order_by(AuditRecord.id)
        ).all()
    assert actions == ["retention.rule_set", "retention.rule_set", "retention.rule_delete"]


def test_the_pass_is_a_job_that_queues_its_next_run(drive: Drive) -> None:
    from polaris.handlers import schedule_periodic, settle
    from polaris.jobs.models import Job

    schedule_periodic(drive.instance)
    schedule_periodic(drive.instance)  # a second node starting: still one waiting
    with drive.instance.sessions() as session:
        assert len(session.scalars(select(Job).where(Job.kind == retention_run.JOB)).all()) == 1
    settle(drive.instance)
    with drive.instance.sessions() as session:
        found = session.scalars(select(Job).where(Job.kind == retention_run.JOB)).all()
    assert sorted(job.status for job in found) == ["done", "queued"]
    [waiting] = [job for job in found if job.status == "queued"]
    assert waiting.run_after > utcnow() + retention_run.RUN_EVERY - dt.timedelta(minutes=5)
