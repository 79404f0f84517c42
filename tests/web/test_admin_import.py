"""CSV import of users: every row error at once with nothing imported; a good file as a job with
progress; the generated first passwords sealed, then shown once to the administrator who ran it."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris import jobs
from polaris.identity.models import User
from polaris.instance import Instance
from tests.factories import FAST_PASSWORDS, make_user
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_pages import csrf_of

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

GOOD_CSV = """username,full_name,unit_code,role,rank,clearance
ramesh.sharma,रमेश शर्मा,PS-A1,constable,Constable,
sunita.verma,Sunita Verma,PS-A2,station_head,TI,confidential
anil.kumar,Anil Kumar,PS-B1,head_constable,HC,
"""
BAD_CSV = """username,full_name,unit_code,role
good.one,Good One,PS-A1,constable
x,Too Short,PS-A1,constable
bad.unit,Bad Unit,PS-Z9,constable
ct.one,Taken,PS-A1,constable
"""


def user_count(instance: Instance) -> int:
    session: Session = instance.sessions()
    try:
        return session.scalar(select(func.count()).select_from(User)) or 0
    finally:
        session.close()


def job_row(instance: Instance, job_id: int) -> jobs.Job:
    session: Session = instance.sessions()
    try:
        return jobs.get_job(session, job_id)
    finally:
        session.close()


def upload(client: TestClient, content: str, name: str = "users.csv") -> object:
    page = client.get("/admin/users/import")
    return client.post(
        "/admin/users/import",
        data={"csrf": csrf_of(page.text)},
        files={"file": (name, content.encode(), "text/csv")},
        follow_redirects=False,
    )


def test_a_bad_file_lists_every_bad_row_and_imports_nothing(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    before = user_count(seeded)
    response = upload(client, BAD_CSV, "स्टेशन.csv")
    assert response.status_code == 422  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert "Nothing was imported." in html and "स्टेशन.csv" in html
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td></tr>", html)
    assert [int(row) for row, _ in rows] == [3, 4, 5]
    assert "username must be" in rows[0][1]
    assert "is not a known unit" in rows[1][1]
    assert "already exists" in rows[2][1]
    assert user_count(seeded) == before
    assert records(seeded, "user.import_queued") == []


def test_a_good_file_runs_as_a_job_with_progress(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    response = upload(client, GOOD_CSV)
    assert response.status_code == 303  # type: ignore[attr-defined]
    location = response.headers["location"]  # type: ignore[attr-defined]
    job_id = int(location.rsplit("/", 1)[1])
    waiting = client.get(location)
    assert "Waiting to start" in waiting.text
    assert f'data-status-url="/admin/jobs/{job_id}/status"' in waiting.text
    assert re.search(
        r'<script type="module" src="/static/js/admin-job\.[0-9a-f]+\.js"></script>', waiting.text
    )
    status = client.get(f"/admin/jobs/{job_id}/status").json()
    assert status == {"status": "queued", "done": 0, "total": None, "finished": False}
    # The CSV waits sealed: not even a username is readable in the job's row.
    assert "ramesh.sharma" not in json.dumps(job_row(seeded, job_id).payload)

    assert jobs.run_pending(seeded) == 1

    status = client.get(f"/admin/jobs/{job_id}/status").json()
    assert status == {"status": "done", "done": 3, "total": 3, "finished": True}
    done = client.get(location)
    assert "3 users imported." in done.text and "js/admin-job." not in done.text
    assert "Download the first passwords (once)" in done.text
    assert user_count(seeded) == 5
    [imported] = records(seeded, "user.import")
    assert imported.actor_name == "admin.one" and imported.detail_value == {"count": 3}
    assert job_row(seeded, job_id).payload["csv"] is None


def test_first_passwords_are_sealed_then_given_once_to_who_ran_the_import(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    location = upload(client, GOOD_CSV).headers["location"]  # type: ignore[attr-defined]
    job_id = int(location.rsplit("/", 1)[1])
    jobs.run_pending(seeded)
    page = client.get(location)

    # Another administrator sees the import but not its passwords.
    session: Session = seeded.sessions()
    make_user(session, "admin.two", unit="PHQ", role="admin")
    session.commit()
    session.close()
    other = TestClient(client.app, base_url="https://testserver")
    sign_in_admin(other, "admin.two")
    seen = other.get(location)
    assert "Only the administrator who started this import" in seen.text
    refused = other.post(f"{location}/passwords", data={"csrf": csrf_of(seen.text)})
    assert refused.status_code == 403

    taken = client.post(f"{location}/passwords", data={"csrf": csrf_of(page.text)})
    assert taken.status_code == 200
    assert taken.headers["content-type"] == "text/csv; charset=utf-8"
    assert taken.headers["cache-control"] == "no-store"
    assert f'filename="first-passwords-{job_id}.csv"' in taken.headers["content-disposition"]
    given = {row["username"]: row["password"] for row in csv.DictReader(io.StringIO(taken.text))}
    assert set(given) == {"ramesh.sharma", "sunita.verma", "anil.kumar"}
    session = seeded.sessions()
    for username, password in given.items():
        user = session.scalars(select(User).where(User.username == username)).one()
        assert FAST_PASSWORDS.verify(user.password_hash, password).ok
        assert user.must_change_password
    session.close()
    payload = json.dumps(job_row(seeded, job_id).payload)
    assert not any(password in payload for password in given.values())
    assert records(seeded, "user.import_passwords_taken")[-1].detail_value == {"count": 3}

    again = client.post(f"{location}/passwords", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 409
    assert "These passwords were already shown, and are not kept." in again.text
    assert "The first passwords were downloaded" in client.get(location).text


def test_rows_that_go_bad_before_the_job_runs_reject_the_whole_import(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    location = upload(client, GOOD_CSV).headers["location"]  # type: ignore[attr-defined]
    session: Session = seeded.sessions()
    make_user(session, "sunita.verma", unit="PS-A1")  # taken meanwhile
    session.commit()
    session.close()
    before = user_count(seeded)
    jobs.run_pending(seeded)
    page = client.get(location)
    assert "Rejected: nothing imported" in page.text
    assert re.search(r"<tr><td>3</td><td>username sunita.verma already", page.text)
    assert user_count(seeded) == before


def test_an_import_whose_requester_is_no_longer_an_administrator_does_not_run(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    location = upload(client, GOOD_CSV).headers["location"]  # type: ignore[attr-defined]
    session: Session = seeded.sessions()
    admin = session.scalars(select(User).where(User.username == "admin.one")).one()
    admin.role_code = "constable"
    session.commit()
    session.close()
    before = user_count(seeded)
    jobs.run_pending(seeded)
    job = job_row(seeded, int(location.rsplit("/", 1)[1]))
    assert job.status == jobs.JobStatus.FAILED
    assert job.error == "the administrator who started this import no longer is one"
    assert user_count(seeded) == before


def test_the_import_page_lists_recent_imports(client: TestClient) -> None:
    sign_in_admin(client)
    location = upload(client, GOOD_CSV).headers["location"]  # type: ignore[attr-defined]
    page = client.get("/admin/users/import")
    assert f'href="{location}"' in page.text and "Waiting to start" in page.text


def test_job_status_is_only_for_administration_jobs(seeded: Instance, client: TestClient) -> None:
    session: Session = seeded.sessions()
    other = jobs.enqueue(session, kind="something.else", payload={})
    session.commit()
    session.close()
    sign_in_admin(client)
    assert client.get(f"/admin/jobs/{other.id}/status").status_code == 404
    assert client.get("/admin/jobs/999999/status").status_code == 404
    assert client.get("/admin/users/import/999999").status_code == 404
