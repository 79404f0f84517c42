"""The guard on the status page: frozen accounts listed with their evidence; the restore and
unfreeze buttons for administrators only, each needing its confirmation, each audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.identity import freezing
from polaris.identity.models import User
from polaris.instance import Instance
from polaris.resilience import repo
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def freeze(instance: Instance, username: str) -> int:
    with unit_of_work(instance.sessions) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        state = repo.lock_account(session, user.id)
        state.score = 24
        state.evidence = [
            {"at": "2026-12-06T10:00:00+00:00", "event": "version.added", "subject_id": 7,
             "findings": ["entropy_jump"], "points": 2},
        ]  # fmt: skip
        freezing.set_writes_frozen(session, user_id=user.id, frozen_at=utcnow())
        return user.id


def is_frozen(instance: Instance, user_id: int) -> bool:
    with instance.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.writes_frozen_at is not None


def test_frozen_accounts_are_listed_and_unfrozen_after_confirmation(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    assert "No account is frozen." in client.get("/admin/status").text
    user_id = freeze(seeded, "ct.one")
    page = client.get("/admin/status")
    assert "ct.one" in page.text and "entropy_jump" in page.text
    assert 'value="2026-12-06T09:55"' in page.text  # five minutes before the first evidence

    csrf = csrf_of(page.text)
    unconfirmed = client.post("/admin/guard/ct.one/unfreeze", data={"csrf": csrf})
    assert unconfirmed.status_code == 422
    assert is_frozen(seeded, user_id)
    restored = client.post(
        "/admin/guard/ct.one/restore",
        data={"csrf": csrf, "since": "2026-12-06T09:55", "confirm": "yes"},
    )
    assert restored.status_code == 200
    assert "0 files restored" in restored.text
    done = client.post("/admin/guard/ct.one/unfreeze", data={"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 200
    assert not is_frozen(seeded, user_id)
    assert [r.actor_name for r in records(seeded, "guard.unfreeze")] == ["admin.one"]
    assert [r.actor_name for r in records(seeded, "guard.restore")] == ["admin.one"]


def test_only_administrators_may_press_the_buttons(seeded: Instance, client: TestClient) -> None:
    user_id = freeze(seeded, "ct.one")
    sign_in(client, "ct.one")
    page = client.get("/")
    refused = client.post(
        "/admin/guard/ct.one/unfreeze", data={"csrf": csrf_of(page.text), "confirm": "yes"}
    )
    assert refused.status_code == 403
    assert is_frozen(seeded, user_id)


def test_a_frozen_administrator_cannot_unfreeze_themselves(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    user_id = freeze(seeded, "admin.one")
    page = client.get("/admin/status")
    assert "This is your own account: another administrator must check it" in page.text
    assert 'action="/admin/guard/admin.one/unfreeze"' not in page.text
    refused = client.post(
        "/admin/guard/admin.one/unfreeze", data={"csrf": csrf_of(page.text), "confirm": "yes"}
    )
    assert refused.status_code == 403
    assert "You cannot unfreeze your own account" in refused.text
    assert is_frozen(seeded, user_id)
    [denial] = records(seeded, "guard.unfreeze")
    assert (denial.decision, denial.reason, denial.actor_name) == (
        "deny",
        "own_freeze",
        "admin.one",
    )


def test_a_frozen_administrator_may_look_but_change_nothing(
    seeded: Instance, client: TestClient
) -> None:
    """The frozen session may be the attacker's: purging, releasing, lifting holds or switching
    the incident mode off are what an attacker would do next."""
    sign_in_admin(client)
    freeze(seeded, "admin.one")
    page = client.get("/admin/status")
    assert page.status_code == 200
    refused = client.post(
        "/admin/incident/on",
        data={"csrf": csrf_of(page.text), "reason": "drill", "confirm": "yes"},
    )
    assert refused.status_code == 403
    assert "ransomware guard saw files being encrypted" in refused.text
    denials = [r for r in records(seeded, "access.admin") if r.reason == "writes_frozen"]
    assert denials
