"""Two real ``polaris serve`` processes on one SQLite instance: a revoked membership holds on
both from their next request (each process caches reach and memberships: ``identity.facts``).

The revoke is made by a third process, this test, through the service layer, as ``polaris`` CLI
commands or another node would: the processes share nothing but the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polaris.cli.main import app as cli_app
from polaris.config import load_settings
from polaris.db.uow import unit_of_work
from polaris.identity import groups, program_tokens
from polaris.instance import open_instance
from tests.factories import SYSTEM, build_tree, make_user
from tests.live_server import Server


@pytest.fixture
def instance_dir(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], int, int]]:
    data_dir = tmp_path / "instance"
    result = CliRunner().invoke(cli_app, ["init", str(data_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    instance = open_instance(load_settings(data_dir))
    tokens = {}
    with unit_of_work(instance.sessions) as session:
        units = build_tree(session)
        member = make_user(session, "hc.a1", unit="PS-A1", role="head_constable")
        owner = make_user(session, "hc.b1", unit="PS-B1", role="head_constable")
        group = groups.create_group(
            session=session, name="SIT", unit_id=units["PS-B1"], context=SYSTEM
        )
        groups.add_member(session=session, group_id=group.id, user_id=member.id, context=SYSTEM)
        for user in (member, owner):
            tokens[user.username] = program_tokens.create_token(
                session=session, user=user, name="t", scopes=["all"], lifetime_days=1,
                context=SYSTEM,
            ).secret  # fmt: skip
        ids = (group.id, member.id)
    instance.close()
    yield data_dir, tokens, *ids


@pytest.mark.slow
def test_a_revoke_holds_on_both_processes_at_their_next_request(
    instance_dir: tuple[Path, dict[str, str], int, int],
) -> None:
    data_dir, tokens, group_id, member_id = instance_dir
    owner = {"Authorization": f"Bearer {tokens['hc.b1']}"}
    member = {"Authorization": f"Bearer {tokens['hc.a1']}"}
    first, second = Server(data_dir), Server(data_dir)
    first.start()
    try:
        second.start()
        status, _, body = first.request("GET", "/api/v1/spaces", headers=owner)
        assert status == 200
        root = next(s["root_id"] for s in json.loads(body) if s["kind"] == "user")
        status, _, body = first.request(
            "POST", f"/api/v1/files?parent_id={root}&name=fir.txt", body=b"x", headers=owner
        )
        assert status == 201, body
        node = json.loads(body)["id"]
        share = json.dumps({"subject_type": "group", "subject_id": group_id}).encode()
        status, _, body = first.request(
            "POST",
            f"/api/v1/nodes/{node}/shares",
            body=share,
            headers={**owner, "Content-Type": "application/json"},
        )
        assert status == 201, body
        for server in (first, second, first, second):  # the second time from the cache
            assert server.request("GET", f"/api/v1/nodes/{node}", headers=member)[0] == 200

        instance = open_instance(load_settings(data_dir))
        with unit_of_work(instance.sessions) as session:
            groups.remove_member(
                session=session, group_id=group_id, user_id=member_id, context=SYSTEM
            )
        instance.close()

        for server in (first, second):
            assert server.request("GET", f"/api/v1/nodes/{node}", headers=member)[0] == 404
    finally:
        first.stop()
        second.stop()
