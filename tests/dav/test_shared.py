"""``Shared with me`` over WebDAV (``dav.shared_root``): what another station's officer shared
with ``hc.a1`` is listed there, readable, and writable only as the share allows, through the
same services and ``access`` as the API; a revoked share is gone on the next request."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from polaris.access.policy import Permission
from polaris.audit.models import AuditRecord
from polaris.db.uow import transaction
from polaris.drive import service, shares
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from tests.dav.conftest import Dav, acting, serving, space_root, upload
from tests.factories import SYSTEM

SHARED = "/dav/Shared with me"
WRITABLE, READABLE = "केस-फ़ाइलें", "पढ़ने-को"


@dataclass
class Shared:
    dav: Dav
    share_ids: dict[str, int]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    with serving(tmp_path_factory.mktemp("shared") / "instance") as dav:
        yield Shared(dav, _share(dav))


def _share(dav: Dav) -> dict[str, int]:
    """hc.a2 (another station) shares two folders of their own space with hc.a1."""
    instance = dav.open_instance()
    ids = {}
    try:
        with acting(instance, "hc.a2") as (session, actor):
            to = session.scalars(select(User).where(User.username == "hc.a1")).one()
            root = space_root(instance, session, actor)
            for name, permission in ((WRITABLE, Permission.EDIT), (READABLE, Permission.READ)):
                folder = service.create_folder(
                    session=session, actor=actor, context=SYSTEM, parent_id=root, name=name
                )
                data = f"{name} का बयान".encode()
                upload(instance, session, actor, folder.node.id, "बयान.txt", data)
                ids[name] = shares.create_share(
                    session=session,
                    actor=actor,
                    context=SYSTEM,
                    node_id=folder.node.id,
                    subject_type="user",
                    subject_id=to.id,
                    permission=permission,
                ).id
    finally:
        instance.close()
    return ids


def test_shared_with_me_is_a_folder_at_the_top(shared: Shared) -> None:
    status, listing = shared.dav.propfind("/dav/")
    assert status == 207 and "<D:href>/dav/Shared%20with%20me/</D:href>" in listing
    status, listing = shared.dav.propfind(SHARED)
    assert status == 207
    for name in (WRITABLE, READABLE):
        assert f"{SHARED.replace(' ', '%20')}/{_quoted(name)}/</D:href>" in listing
    # The same under the Nextcloud address.
    status, listing = shared.dav.propfind("/remote.php/dav/files/hc.a1/Shared with me")
    assert status == 207 and _quoted(WRITABLE) in listing
    # hc.a2 shared nothing with themselves: their folder is there, empty.
    status, listing = shared.dav.propfind(SHARED, user="hc.a2")
    assert status == 207 and _quoted(WRITABLE) not in listing


def _quoted(name: str) -> str:
    return quote(name)


def test_a_shared_file_reads_and_a_write_share_takes_files(shared: Shared) -> None:
    dav = shared.dav
    status, _, body = dav.request("GET", f"{SHARED}/{WRITABLE}/बयान.txt")
    assert status == 200 and body == f"{WRITABLE} का बयान".encode()
    assert dav.request("PUT", f"{SHARED}/{WRITABLE}/नया.txt", body=b"from hc.a1")[0] == 201
    # The owner finds it in their own space.
    status, _, body = dav.request("GET", f"/dav/hc.a2/{WRITABLE}/नया.txt", user="hc.a2")
    assert status == 200 and body == b"from hc.a1"
    instance = dav.open_instance()
    try:
        with instance.sessions() as session:
            made = session.scalars(
                select(AuditRecord).where(
                    AuditRecord.action == "file.create", AuditRecord.actor_name == "hc.a1"
                )
            ).all()
    finally:
        instance.close()
    assert made


def test_a_read_share_takes_no_writes_and_the_folder_itself_none(shared: Shared) -> None:
    dav = shared.dav
    assert dav.request("GET", f"{SHARED}/{READABLE}/बयान.txt")[0] == 200
    assert dav.request("PUT", f"{SHARED}/{READABLE}/नया.txt", body=b"no")[0] in (403, 404)
    assert dav.request("DELETE", f"{SHARED}/{READABLE}/बयान.txt")[0] in (403, 404)
    assert dav.request("GET", f"/dav/hc.a2/{READABLE}/बयान.txt", user="hc.a2")[0] == 200
    assert dav.request("MKCOL", f"{SHARED}/नया-फ़ोल्डर")[0] == 403
    assert dav.request("PUT", f"{SHARED}/beside.txt", body=b"no")[0] == 403
    assert dav.request("DELETE", SHARED)[0] == 403
    assert dav.request("DELETE", "/dav/")[0] == 403  # nor the top level, nor what is in it
    assert dav.request("GET", f"{SHARED}/{WRITABLE}/बयान.txt")[0] == 200
    assert dav.request("PROPFIND", "/dav/hc.a1", headers={"Depth": "0"})[0] == 207


def test_a_revoked_share_is_gone_on_the_next_request(shared: Shared, tmp_path: Path) -> None:
    dav = shared.dav
    instance = dav.open_instance()
    session = instance.sessions()
    try:
        with transaction(session):
            owner = session.scalars(select(User).where(User.username == "hc.a2")).one()
            shares.revoke_share(
                session=session,
                actor=actor_for(session=session, user=owner, auth_factors="password"),
                context=SYSTEM,
                share_id=shared.share_ids[READABLE],
            )
    finally:
        session.close()
        instance.close()
    status, listing = dav.propfind(SHARED)
    assert status == 207 and _quoted(READABLE) not in listing
    assert dav.request("GET", f"{SHARED}/{READABLE}/बयान.txt")[0] == 404


def test_rclone_copies_down_and_up_through_a_write_share(shared: Shared, tmp_path: Path) -> None:
    """rclone (vendor nextcloud) at ``…/files/hc.a1/Shared with me``: a shared folder's files
    come down, and a new local file goes up into it, to its owner's space."""
    rclone = shutil.which("rclone")
    assert rclone is not None, "rclone is not installed (scripts/test.sh installs it)"
    dav = shared.dav
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    obscured = subprocess.run(
        [rclone, "obscure", dav.secrets["hc.a1"]], capture_output=True, text=True, check=True
    ).stdout.strip()
    env |= {
        "RCLONE_CONFIG_S_TYPE": "webdav",
        "RCLONE_CONFIG_S_URL": (
            f"http://127.0.0.1:{dav.server.port}/remote.php/dav/files/hc.a1/Shared%20with%20me"
        ),
        "RCLONE_CONFIG_S_VENDOR": "nextcloud",
        "RCLONE_CONFIG_S_USER": "hc.a1",
        "RCLONE_CONFIG_S_PASS": obscured,
    }

    def run(*args: str) -> None:
        done = subprocess.run(
            [rclone, "--config", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    down = tmp_path / "down"
    run("copy", f"S:{WRITABLE}", str(down))
    assert (down / "बयान.txt").read_bytes() == f"{WRITABLE} का बयान".encode()
    (down / "rclone-से.txt").write_bytes(b"up through a share")
    run("copy", "--checksum", str(down), f"S:{WRITABLE}")
    status, _, body = dav.request("GET", f"/dav/hc.a2/{WRITABLE}/rclone-से.txt", user="hc.a2")
    assert status == 200 and body == b"up through a share"
