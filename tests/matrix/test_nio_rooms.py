"""Two officers converse through matrix-nio against a real ``polaris serve``: rooms, messages,
receipts, typing, an attachment, transaction ids, sync from an old token, pagination, logout.

The server is the session's ``matrix_server`` (``conftest.py``); every wait is a long-poll sync
that returns when the server has what the test waits for (the test's own timeout only bounds a
failure).
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from nio import (
    AsyncClient,
    DownloadError,
    DownloadResponse,
    JoinResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    SyncError,
    SyncResponse,
    UploadResponse,
)

from tests.live_server import Server
from tests.matrix.conftest import audit_records
from tests.matrix.test_nio import SERVER, raw, run, signed_in

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

ROOM_NAME = "थाना अ — समन्वय (FIR 12/2026)"
LONG_POLL_MS = 20_000


async def sync_raw(client: AsyncClient, since: str | None, timeout: int = 0) -> dict[str, Any]:
    path = f"/_matrix/client/v3/sync?timeout={timeout}"
    if since is not None:
        path += f"&since={since}"
    status, body = await raw(client, "GET", path)
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def sync_until(
    client: AsyncClient, since: str | None, found: Any, tries: int = 20
) -> tuple[dict[str, Any], str]:
    """Long-poll until ``found(body)`` holds; (that body, its next_batch). Each sync returns as
    soon as something reaches the user, so this loops only over unrelated changes."""
    for _ in range(tries):
        body = await sync_raw(client, since, LONG_POLL_MS)
        since = body["next_batch"]
        if found(body):
            return body, body["next_batch"]
    raise AssertionError("the awaited change never came")


def timeline(body: dict[str, Any], room_id: str) -> list[dict[str, Any]]:
    room = body["rooms"]["join"].get(room_id, {})
    return list(room.get("timeline", {}).get("events", []))


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"].get("body", "") for e in events if e["type"] == "m.room.message"]


def ephemeral(body: dict[str, Any], room_id: str, kind: str) -> list[dict[str, Any]]:
    room = body["rooms"]["join"].get(room_id, {})
    return [e for e in room.get("ephemeral", {}).get("events", []) if e["type"] == kind]


def test_a_conversation_between_two_officers(matrix_server: Server) -> None:
    async def test() -> None:
        a = await signed_in(matrix_server, "hc.a1")
        b = await signed_in(matrix_server, "hc.b1")
        third = await signed_in(matrix_server, "hc.gone")
        try:
            first = await b.sync(timeout=0)
            assert isinstance(first, SyncResponse), first
            b_token = first.next_batch

            # A room with a Hindi name; b is invited and sees the invitation by sync.
            made = await a.room_create(
                name=ROOM_NAME, topic="समन्वय / coordination", preset=RoomPreset.private_chat,
                invite=[b.user_id],
            )  # fmt: skip
            assert isinstance(made, RoomCreateResponse), made
            room = made.room_id
            assert room.startswith("!") and room.endswith(f":{SERVER}")
            body, b_token = await sync_until(b, b_token, lambda s: room in s["rooms"]["invite"])
            stripped = body["rooms"]["invite"][room]["invite_state"]["events"]
            names = [e["content"]["name"] for e in stripped if e["type"] == "m.room.name"]
            assert names == [ROOM_NAME]
            mine = [e for e in stripped if e["type"] == "m.room.member"]
            assert mine[0]["state_key"] == b.user_id
            assert mine[0]["content"]["membership"] == "invite"

            joined = await b.join(room)
            assert isinstance(joined, JoinResponse), joined
            status, rooms = await raw(b, "GET", "/_matrix/client/v3/joined_rooms")
            assert status == 200 and room in rooms["joined_rooms"]
            body, b_token = await sync_until(b, b_token, lambda s: room in s["rooms"]["join"])
            state = body["rooms"]["join"][room]["state"]["events"]
            assert ROOM_NAME in [e["content"].get("name") for e in state]
            status, name = await raw(
                b, "GET", f"/_matrix/client/v3/rooms/{room}/state/m.room.name/"
            )
            assert (status, name) == (200, {"name": ROOM_NAME})
            status, members = await raw(b, "GET", f"/_matrix/client/v3/rooms/{room}/members")
            assert status == 200
            assert {m["state_key"]: m["content"]["membership"] for m in members["chunk"]} == {
                a.user_id: "join",
                b.user_id: "join",
            }

            # b long-polls while a writes in Hindi (the same transaction id twice: sent once).
            waiting = asyncio.create_task(
                sync_until(b, b_token, lambda s: "नमस्ते" in " ".join(bodies(timeline(s, room))))
            )
            hindi = {"msgtype": "m.text", "body": "नमस्ते, FIR संख्या 12 की स्थिति क्या है?"}
            sent = await a.room_send(room, "m.room.message", hindi, tx_id="txn-1")
            assert isinstance(sent, RoomSendResponse), sent
            again = await a.room_send(room, "m.room.message", hindi, tx_id="txn-1")
            assert isinstance(again, RoomSendResponse) and again.event_id == sent.event_id
            body, b_token = await waiting
            seen = bodies(timeline(body, room))
            assert seen.count(hindi["body"]) == 1

            # b answers in English, as a reply; a sees it with the relation.
            reply = {
                "msgtype": "m.text",
                "body": "Chargesheet filed today.",
                "m.relates_to": {"m.in_reply_to": {"event_id": sent.event_id}},
            }
            answered = await b.room_send(room, "m.room.message", reply, tx_id="txn-1")
            assert isinstance(answered, RoomSendResponse), answered
            assert answered.event_id != sent.event_id  # another sender's txn id is its own
            a_first = await a.sync(timeout=0)
            assert isinstance(a_first, SyncResponse), a_first
            a_token = a_first.next_batch
            events = timeline(await sync_raw(a, None), room)
            replies = [e for e in events if e["event_id"] == answered.event_id]
            assert replies[0]["content"]["m.relates_to"] == {
                "m.in_reply_to": {"event_id": sent.event_id}
            }

            # Typing (ephemeral) and a read receipt reach a by sync.
            assert (await b.room_typing(room, True, 30_000)).__class__.__name__ == (
                "RoomTypingResponse"
            )
            body, a_token = await sync_until(
                a, a_token, lambda s: bool(ephemeral(s, room, "m.typing"))
            )
            assert ephemeral(body, room, "m.typing")[0]["content"]["user_ids"] == [b.user_id]
            status, _ = await raw(
                b, "POST", f"/_matrix/client/v3/rooms/{room}/receipt/m.read/{sent.event_id}", {}
            )
            assert status == 200
            body, a_token = await sync_until(
                a, a_token, lambda s: bool(ephemeral(s, room, "m.receipt"))
            )
            receipt = ephemeral(body, room, "m.receipt")[0]["content"]
            assert b.user_id in receipt[sent.event_id]["m.read"]
            status, _ = await raw(
                b, "POST", f"/_matrix/client/v3/rooms/{room}/read_markers",
                {"m.fully_read": answered.event_id, "m.read": answered.event_id},
            )  # fmt: skip
            assert status == 200
            body = await sync_raw(b, None)
            assert body["rooms"]["join"][room]["unread_notifications"]["notification_count"] == 0
            body = await sync_raw(a, None)
            assert body["rooms"]["join"][room]["unread_notifications"]["notification_count"] == 1

            # An attachment: a uploads, sends m.file; b downloads it; a third officer cannot.
            payload = "केस डायरी — case diary\n".encode() * 50
            uploaded, _ = await a.upload(
                io.BytesIO(payload), content_type="text/plain", filename="case-diary.txt",
                filesize=len(payload),
            )  # fmt: skip
            assert isinstance(uploaded, UploadResponse), uploaded
            file_event = {
                "msgtype": "m.file",
                "body": "case-diary.txt",
                "url": uploaded.content_uri,
                "info": {"mimetype": "text/plain", "size": len(payload)},
            }
            sent_file = await a.room_send(room, "m.room.message", file_event, tx_id="file-1")
            assert isinstance(sent_file, RoomSendResponse), sent_file
            body, b_token = await sync_until(
                b, b_token, lambda s: "case-diary.txt" in bodies(timeline(s, room))
            )
            shown = [e for e in timeline(body, room) if e["event_id"] == sent_file.event_id]
            assert shown[0]["content"]["msgtype"] == "m.file"
            assert shown[0]["content"]["url"] == uploaded.content_uri
            got = await b.download(uploaded.content_uri)
            assert isinstance(got, DownloadResponse), got
            assert got.body == payload
            refused = await third.download(uploaded.content_uri)
            missing = await third.download(f"mxc://{SERVER}/AAAAAAAAAAAAAAAAAAAAAAAA")
            assert isinstance(refused, DownloadError) and isinstance(missing, DownloadError)
            assert refused.status_code == "M_NOT_FOUND"
            assert (refused.status_code, refused.message) == (missing.status_code, missing.message)
            # Invited and joined after the send (no drive share of the file), the third officer
            # reads it through the room; having left, no longer.
            reads_before = len(audit_records(matrix_server, "chat.attachment.read"))
            status, _ = await raw(
                a, "POST", f"/_matrix/client/v3/rooms/{room}/invite", {"user_id": third.user_id}
            )
            assert status == 200
            assert isinstance(await third.join(room), JoinResponse)
            late = await third.download(uploaded.content_uri)
            assert isinstance(late, DownloadResponse), late
            assert late.body == payload
            assert len(audit_records(matrix_server, "chat.attachment.read")) == reads_before + 1
            status, _ = await raw(third, "POST", f"/_matrix/client/v3/rooms/{room}/leave", {})
            assert status == 200
            gone = await third.download(uploaded.content_uri)
            assert isinstance(gone, DownloadError)
            assert (gone.status_code, gone.message) == (missing.status_code, missing.message)

            # An edit and a deletion keep their place in the timeline.
            edit = {
                "msgtype": "m.text",
                "body": "* Chargesheet filed today (12:40 IST).",
                "m.new_content": {"msgtype": "m.text", "body": "Chargesheet filed 12:40 IST."},
                "m.relates_to": {"rel_type": "m.replace", "event_id": answered.event_id},
            }
            edited = await b.room_send(room, "m.room.message", edit, tx_id="edit-1")
            assert isinstance(edited, RoomSendResponse), edited
            status, found = await raw(
                a, "GET", f"/_matrix/client/v3/rooms/{room}/event/{edited.event_id}"
            )
            assert status == 200
            assert found["content"]["m.relates_to"]["rel_type"] == "m.replace"
            assert found["content"]["m.new_content"]["body"] == "Chargesheet filed 12:40 IST."

            # A message sent by mistake is deleted (twice with one transaction id: one deletion);
            # b sees the redaction, and the message without its text.
            wrong = await a.room_send(
                room, "m.room.message", {"msgtype": "m.text", "body": "गलत कमरा"}, tx_id="w-1"
            )
            assert isinstance(wrong, RoomSendResponse), wrong
            status, first_redaction = await raw(
                a, "PUT", f"/_matrix/client/v3/rooms/{room}/redact/{wrong.event_id}/r-1", {}
            )
            assert status == 200, first_redaction
            status, second = await raw(
                a, "PUT", f"/_matrix/client/v3/rooms/{room}/redact/{wrong.event_id}/r-1", {}
            )
            assert (status, second) == (200, first_redaction)
            body, b_token = await sync_until(
                b, b_token,
                lambda s: any(e["type"] == "m.room.redaction" for e in timeline(s, room)),
            )  # fmt: skip
            redactions = [e for e in timeline(body, room) if e["type"] == "m.room.redaction"]
            assert redactions[0]["redacts"] == wrong.event_id
            assert redactions[0]["event_id"] == first_redaction["event_id"]
            status, page = await raw(
                b, "GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=5"
            )
            hidden = [e for e in page["chunk"] if e["event_id"] == wrong.event_id]
            assert status == 200 and hidden[0]["content"] == {}

            # b goes offline after this token; a sends 30 more; b's old token gets every one of
            # them once, in order, over as many syncs as it takes.
            old_token = b_token
            numbered = [f"संदेश {n} / message {n}" for n in range(30)]
            for n, text in enumerate(numbered):
                done = await a.room_send(
                    room, "m.room.message", {"msgtype": "m.text", "body": text}, tx_id=f"n-{n}"
                )
                assert isinstance(done, RoomSendResponse), done
            caught: list[str] = []
            since = old_token
            while True:
                body = await sync_raw(b, since)
                got_events = bodies(timeline(body, room))
                caught += got_events
                if body["next_batch"] == since:
                    break
                since = body["next_batch"]
            assert [c for c in caught if c in numbered] == numbered

            # Pagination backwards with /messages from the newest event gives the same, in order.
            paged: list[str] = []
            token: str | None = None
            for _ in range(20):
                page = await b.room_messages(
                    room, start=token or "", direction=MessageDirection.back, limit=7
                )
                assert isinstance(page, RoomMessagesResponse), page
                paged += [
                    e.source["content"].get("body", "")
                    for e in page.chunk
                    if e.source["type"] == "m.room.message"
                ]
                if not page.end:
                    break
                token = page.end
            history = list(reversed(paged))
            assert [h for h in history if h in numbered] == numbered
            assert history[0] == hindi["body"]

            # The context of the first message.
            status, context = await raw(
                b, "GET", f"/_matrix/client/v3/rooms/{room}/context/{sent.event_id}?limit=4"
            )
            assert status == 200 and context["event"]["event_id"] == sent.event_id
            assert context["events_after"][0]["event_id"] == answered.event_id

            # Logged out, b's token is refused.
            token_b = b.access_token
            await b.logout()
            b.access_token = token_b
            after = await b.sync(timeout=0)
            assert isinstance(after, SyncError) and after.status_code == "M_UNKNOWN_TOKEN"
        finally:
            for client in (a, third):
                await client.logout()
            for client in (a, b, third):
                await client.close()

    run(test)


def test_encryption_is_refused_with_a_clear_error(matrix_server: Server) -> None:
    async def test() -> None:
        a = await signed_in(matrix_server, "hc.a1")
        try:
            made = await a.room_create(name="E2EE?", preset=RoomPreset.private_chat)
            assert isinstance(made, RoomCreateResponse), made
            room = made.room_id
            status, body = await raw(
                a, "PUT", f"/_matrix/client/v3/rooms/{room}/state/m.room.encryption/",
                {"algorithm": "m.megolm.v1.aes-sha2"},
            )  # fmt: skip
            assert status == 403 and body["errcode"] == "M_FORBIDDEN"
            assert "encryption is turned off" in body["error"]
            status, body = await raw(
                a, "PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.encrypted/x1",
                {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "…"},
            )  # fmt: skip
            assert status == 403 and body["errcode"] == "M_FORBIDDEN"
            status, body = await raw(
                a, "POST", "/_matrix/client/v3/createRoom",
                {"name": "x", "initial_state": [
                    {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1"}}
                ]},
            )  # fmt: skip
            assert status == 403 and body["errcode"] == "M_FORBIDDEN"
        finally:
            await a.logout()
            await a.close()

    run(test)


def test_a_direct_room_is_one_per_pair(matrix_server: Server) -> None:
    async def test() -> None:
        a = await signed_in(matrix_server, "hc.a1")
        b = await signed_in(matrix_server, "hc.b1")
        try:
            made = await a.room_create(
                is_direct=True, preset=RoomPreset.trusted_private_chat, invite=[b.user_id]
            )
            assert isinstance(made, RoomCreateResponse), made
            again = await b.room_create(is_direct=True, invite=[a.user_id])
            assert isinstance(again, RoomCreateResponse) and again.room_id == made.room_id
            status, rooms = await raw(b, "GET", "/_matrix/client/v3/joined_rooms")
            assert status == 200 and made.room_id in rooms["joined_rooms"]
            status, members = await raw(
                b, "GET", f"/_matrix/client/v3/rooms/{made.room_id}/members"
            )
            assert status == 200
            assert {m["state_key"] for m in members["chunk"]} == {a.user_id, b.user_id}
            assert all(m["content"]["is_direct"] for m in members["chunk"])
        finally:
            for client in (a, b):
                await client.logout()
                await client.close()

    run(test)
