"""An attachment whose content the malware scan holds is refused as the drive refuses it (policy
rule 8): through the messenger's download and through Matrix media alike, 403 ``file_quarantined``
when infected, ``scan_pending`` to all but the uploader while pending, each refusal audited."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from polaris.access.policy import Classification
from polaris.audit.models import AuditRecord
from polaris.chat import attachments, files, rooms
from polaris.db.uow import transaction
from polaris.drive.models import ContentScan, FileVersion, Node
from polaris.errors import PolarisError
from polaris.instance import Instance
from polaris.matrix import room_media
from polaris.matrix.ids import new_media_id
from polaris.matrix.models import MatrixMedia
from polaris.storage.store import BlobStore
from tests.chat.conftest import People
from tests.chat.test_attachments import file_of, group

#: Never reached: the refusal comes before a byte is read.
NO_BLOBS = cast(BlobStore, None)
NO_SESSIONS = cast(sessionmaker[Any], None)


def held_attachment(people: People, state: str) -> tuple[str, str]:
    """sp sends a file whose one version's scan is in ``state`` into a room asha joined; the
    event key and the media id of it."""
    room_id = group(people, "asha")
    rooms.join(**people.who("asha"), room_id=room_id)
    node_id = file_of(people, "sp", f"{state}.pdf", Classification.UNCLASSIFIED)
    sha = f"{state:0<64}"[:64]
    version = FileVersion(
        node_id=node_id, number=1, size=10, sha256=sha, manifest_id="m", content={},
        content_type="application/pdf", created_by=people.id("sp"),
    )  # fmt: skip
    people.session.add(version)
    people.session.flush()
    node = people.session.get(Node, node_id)
    assert node is not None
    node.current_version_id = version.id
    media = MatrixMedia(
        media_id=new_media_id(), user_id=people.id("sp"), node_id=node_id, version_id=version.id,
        content_type="application/pdf", upload_name=f"{state}.pdf",
    )  # fmt: skip
    people.session.add(media)
    people.session.commit()
    sent = attachments.send_attachment(**people.who("sp"), room_id=room_id, node_id=node_id)
    # Found (or held) after the send, as when clamd's verdict comes later.
    people.session.add(
        ContentScan(sha256=sha, state=state, uploader_id=people.id("sp"), version_id=version.id)
    )
    people.session.commit()
    return sent.event_key, media.media_id


def refusal(people: People, who: str, event_key: str, media_id: str) -> list[tuple[int, str]]:
    """The status and code of the messenger's download and of the Matrix room media's."""
    instance = cast(Instance, SimpleNamespace(blobs=None, sessions=None))
    found: list[tuple[int, str]] = []
    call = people.who(who)
    people.session.rollback()  # the download opens its own transaction
    with pytest.raises(PolarisError) as chat_error:
        files.download(**call, instance=instance, event_key=event_key)
    found.append((chat_error.value.status, chat_error.value.code))
    with pytest.raises(PolarisError) as matrix_error, transaction(people.session):
        room_media.open_room_download(
            **call, blobs=NO_BLOBS, sessions=NO_SESSIONS, media_id=media_id,
            event_key=event_key,
        )  # fmt: skip
    found.append((matrix_error.value.status, matrix_error.value.code))
    people.session.rollback()
    return found


def test_infected_attachment_is_quarantined_from_every_member(people: People) -> None:
    event_key, media_id = held_attachment(people, "infected")
    for who in ("asha", "sp"):  # the sender (uploader) included, as in the drive
        assert refusal(people, who, event_key, media_id) == [(403, "file_quarantined")] * 2
    denials = people.session.scalars(
        select(AuditRecord.reason).where(
            AuditRecord.action == "node.read", AuditRecord.decision == "deny"
        )
    )
    assert list(denials)[-4:] == ["quarantined"] * 4


def test_pending_attachment_is_held_from_all_but_its_uploader(people: People) -> None:
    event_key, media_id = held_attachment(people, "pending")
    assert refusal(people, "asha", event_key, media_id) == [(403, "scan_pending")] * 2
