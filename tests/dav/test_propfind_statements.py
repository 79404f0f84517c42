"""What a WebDAV listing costs the database, pinned: ``PROPFIND Depth: 1`` of a folder, with the
``oc:`` properties the Nextcloud clients ask for, sends the same number of statements however
many files the folder holds (``dav.fast_propfind``: the children in one select of the columns a
listing needs, the shares on them and their checksums one query each, joined to the folder rather
than listed by id; the locks once), and none of them in a write transaction.

``bench/dav.py --propfind 10000`` measures the time of such a listing over HTTP."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from polaris.db import make_engine
from polaris.db.uow import transaction
from polaris.drive import content, service, spaces
from polaris.identity import app_passwords
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from polaris.instance import Instance
from tests.conftest import PG_SCHEMA
from tests.drive.conftest import seed
from tests.factories import SYSTEM
from tests.support.real_app import client_for, migrated, real_instance
from tests.support.statements import counting

#: The most a PROPFIND of a folder may send, whatever it holds (with its caller and spaces).
BUDGET = 11
FOLDER = "/remote.php/dav/files/hc.a1/hc.a1/listed"
PROPS = (
    b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/><oc:id/>"
    b"<oc:fileid/><oc:permissions/><oc:size/><oc:checksums/></d:prop></d:propfind>"
)


@dataclass
class Listed:
    engine: Engine
    instance: Instance
    client: TestClient
    auth: str
    folder_id: int
    made: int = 0

    def add_files(self, count: int) -> None:
        session = self.instance.sessions()
        try:
            with transaction(session):
                user = session.scalars(select(User).where(User.username == "hc.a1")).one()
                actor = actor_for(session=session, user=user, auth_factors="password")
                for index in range(self.made, self.made + count):
                    content.commit_upload(
                        session=session,
                        actor=actor,
                        context=SYSTEM,
                        blobs=self.instance.blobs,
                        content=f"file {index}".encode(),
                        parent_id=self.folder_id,
                        name=f"दस्तावेज़-{index:03d}.txt",
                    )
        finally:
            session.close()
        self.made += count

    def propfind(self) -> int:
        answer = self.client.request(
            "PROPFIND",
            FOLDER,
            content=PROPS,
            headers={"Authorization": self.auth, "Depth": "1"},
        )
        assert answer.status_code == 207, answer.text
        return len(re.findall(r"<(?:[A-Za-z0-9]+:)?response[ >]", answer.text))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def listed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Listed]:
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"propfind-{backend}")
    with migrated(backend, directory, PG_SCHEMA + "_propfind") as url:
        engine = make_engine(url)
        instance = real_instance(engine, directory)
        session = instance.sessions()
        try:
            with transaction(session):
                seed(session)
                user = session.scalars(select(User).where(User.username == "hc.a1")).one()
                secret = app_passwords.create(
                    session=session, user=user, name="pc", scope="write", context=SYSTEM
                ).secret
                actor = actor_for(session=session, user=user, auth_factors="password")
                own = next(
                    space
                    for space in spaces.visible_spaces(
                        session=session,
                        actor=actor,
                        defaults=spaces.space_defaults(instance.settings),
                    )
                    if space.kind == "user"
                )
                assert own.root_id is not None
                folder = service.create_folder(
                    session=session,
                    actor=actor,
                    context=SYSTEM,
                    parent_id=own.root_id,
                    name="listed",
                )
        finally:
            session.close()
        auth = "Basic " + base64.b64encode(f"hc.a1:{secret}".encode()).decode()
        try:
            with client_for(instance) as client:
                yield Listed(engine, instance, client, auth, folder.node.id)
        finally:
            engine.dispose()


def test_a_listing_costs_the_same_statements_however_many_files(listed: Listed) -> None:
    tallies = []
    for count in (10, 40):
        listed.add_files(count)
        listed.propfind()  # warm: the caller's cached facts
        with counting(listed.engine) as tally:
            assert listed.propfind() == listed.made + 1
        print(f"{listed.made} files: {tally.describe()}")
        tallies.append(tally)
    assert tallies[0].count == tallies[1].count, tallies[1].describe()
    assert tallies[1].count <= BUDGET, tallies[1].describe()
    assert tallies[1].write_transactions == 0, tallies[1].describe()
    assert not tallies[1].writes_in_reads, tallies[1].describe()
