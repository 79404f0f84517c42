"""What a WebDAV listing costs the database, pinned: ``PROPFIND Depth: 1`` of a folder, with the
``oc:`` properties the Nextcloud clients ask for, sends the same number of statements however
many files the folder holds (``dav.fast_propfind``: the children in one select of the columns a
listing needs, the shares on them and their checksums one query each, joined to the folder rather
than listed by id; the locks once), and none of them in a write transaction.

``bench/dav.py --propfind 10000`` measures the time of such a listing over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import PG_SCHEMA
from tests.dav.conftest import acting, upload
from tests.dav.in_process import USER, InProcess, in_process
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
    app: InProcess
    made: int = 0

    def add_files(self, count: int) -> None:
        with acting(self.app.instance, USER) as (session, actor):
            for index in range(self.made, self.made + count):
                name, data = f"दस्तावेज़-{index:03d}.txt", f"file {index}".encode()
                upload(self.app.instance, session, actor, self.app.folder_id, name, data)
        self.made += count

    def propfind(self) -> int:
        answer = self.app.request("PROPFIND", FOLDER, PROPS, Depth="1")
        assert answer.status_code == 207, answer.text
        return len(re.findall(r"<(?:[A-Za-z0-9]+:)?response[ >]", answer.text))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def listed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Listed]:
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"propfind-{backend}")
    with in_process(backend, directory, PG_SCHEMA + "_propfind", "listed") as app:
        yield Listed(app)


def test_a_listing_costs_the_same_statements_however_many_files(listed: Listed) -> None:
    tallies = []
    for count in (10, 40):
        listed.add_files(count)
        listed.propfind()  # warm: the caller's cached facts
        with counting(listed.app.engine) as tally:
            assert listed.propfind() == listed.made + 1
        print(f"{listed.made} files: {tally.describe()}")
        tallies.append(tally)
    assert tallies[0].count == tallies[1].count, tallies[1].describe()
    assert tallies[1].count <= BUDGET, tallies[1].describe()
    assert tallies[1].write_transactions == 0, tallies[1].describe()
    assert not tallies[1].writes_in_reads, tallies[1].describe()
