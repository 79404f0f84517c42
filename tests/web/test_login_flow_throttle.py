"""``POST /index.php/login/v2`` needs no sign-in and makes a row, so starts are throttled per
client address (``identity.throttle``, ``flow:`` counters): a few an hour free, then a doubling
wait (429, a Problem with ``Retry-After``), an hourly cap; another address is not held up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from polaris.app import create_app
from polaris.clock import utcnow
from polaris.errors import Throttled
from polaris.identity import throttle
from polaris.identity.models import LoginFlow, LoginThrottle
from polaris.identity.throttle import ThrottlePolicy
from polaris.instance import Instance

FREE = 2
START = "/index.php/login/v2"


@pytest.fixture
def throttled(seeded: Instance) -> Instance:
    policy = ThrottlePolicy(flow_free_per_hour=FREE, flow_max_per_hour=5)
    return replace(seeded, auth=replace(seeded.auth, throttle=policy))


@pytest.fixture
def app_of(throttled: Instance) -> Iterator[object]:
    yield create_app(throttled, seal_periodically=False, run_jobs=False)


def _client(app: object, address: str) -> TestClient:
    return TestClient(app, base_url="https://testserver", client=(address, 40000))  # type: ignore[arg-type]


def _flows(instance: Instance) -> int:
    with instance.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LoginFlow)) or 0)


def test_login_flow_starts_are_throttled_per_address(app_of: object, throttled: Instance) -> None:
    with _client(app_of, "10.1.1.1") as station, _client(app_of, "10.2.2.2") as other:
        headers = {"User-Agent": "Nextcloud desktop"}
        for _ in range(FREE + 1):  # the free ones, and the first counted against the address
            answer = station.post(START, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["login"].startswith("https://testserver/index.php/login/v2/flow/")
        made = _flows(throttled)
        refused = station.post(START, headers=headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "throttled"
        assert "login flows" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        assert _flows(throttled) == made  # a refused start makes no flow
        assert other.post(START, headers=headers).status_code == 200
    with throttled.sessions() as session:
        keys = set(session.scalars(select(LoginThrottle.key)))
    assert {"flow:10.1.1.1", "flow:10.2.2.2"} <= keys
    assert not any(key.startswith(("pair:", "account:", "source:")) for key in keys)


def test_the_hourly_cap_holds_for_the_rest_of_the_hour(throttled: Instance) -> None:
    policy = replace(throttled.auth.throttle, flow_free_per_hour=100, flow_max_per_hour=3)
    now = utcnow()
    with throttled.sessions() as session:
        for _ in range(3):
            throttle.count_flow(session=session, source_address="10.3.3.3", now=now, policy=policy)
        with pytest.raises(Throttled) as raised:
            throttle.count_flow(session=session, source_address="10.3.3.3", now=now, policy=policy)
        assert raised.value.retry_after == pytest.approx(3600, abs=1)
        later = now + dt.timedelta(hours=1, seconds=1)
        throttle.count_flow(session=session, source_address="10.3.3.3", now=later, policy=policy)
        session.rollback()
