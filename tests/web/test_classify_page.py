"""The file page's classification form over HTTP: an owner with ``classify`` is offered only
upward levels once a level is set, and a lowering posted anyway is refused and audited."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit.models import AuditRecord
from polaris.instance import Instance
from tests.web.test_drive_pages import node, put
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def _levels(text: str) -> list[str]:
    form = text.split('class="inline classify"', 1)[1].split("</form>")[0]
    return re.findall(r'<option value="(\w+)"', form)


def test_an_owner_is_offered_only_upward_levels_and_a_lowering_is_refused(
    seeded: Instance, client: TestClient
) -> None:
    file_id = put(seeded, "ct.one", "FIR.txt", b"fir")
    sign_in(client, "ct.one")
    before = client.get(f"/drive/file/{file_id}")
    assert _levels(before.text) == ["unclassified", "restricted"]
    raised = client.post(
        f"/drive/node/{file_id}/classify",
        data={"csrf": csrf_of(before.text), "classification": "restricted"},
        follow_redirects=False,
    )
    assert raised.status_code == 303
    after = client.get(f"/drive/file/{file_id}")
    assert _levels(after.text) == ["restricted"]  # a constable's clearance ends there
    lowered = client.post(
        f"/drive/node/{file_id}/classify",
        data={"csrf": csrf_of(after.text), "classification": "unclassified"},
    )
    assert lowered.status_code == 403
    assert node(seeded, file_id).classification == 1
    session: Session = seeded.sessions()
    denied = session.scalars(
        select(AuditRecord.action).where(
            AuditRecord.decision == "deny", AuditRecord.object_id == str(file_id)
        )
    ).all()
    session.close()
    assert list(denied) == ["node.declassify"]
