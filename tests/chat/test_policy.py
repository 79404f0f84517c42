"""The chat rules (``access.policy.decide_chat``) as a table: kind x membership x role x action."""

from __future__ import annotations

from dataclasses import replace

import pytest

from polaris.access.policy import (
    Action,
    Actor,
    ChatAction,
    ChatRoomFacts,
    Classification,
    decide_broadcast,
    decide_chat,
    decide_chat_export,
)

OFFICER = Actor(
    user_id=7,
    username="asha",
    unit_id=10,
    role_code="constable",
    clearance=Classification.RESTRICTED,
)
SUPERVISOR = replace(OFFICER, subtree_actions=frozenset({Action.READ}))
A = ChatAction


def facts(kind: str, membership: str | None, role: str | None = "member") -> ChatRoomFacts:
    return ChatRoomFacts(room_id=1, kind=kind, membership=membership, role=role)


@pytest.mark.parametrize(
    ("kind", "membership", "role", "action", "allowed", "reason"),
    [
        ("group", "join", "member", A.READ, True, "member"),
        ("group", "join", "member", A.SEND, True, "member"),
        ("group", "join", "member", A.INVITE, True, "member"),
        ("group", "join", "member", A.MODERATE, False, "not_moderator"),
        ("group", "join", "moderator", A.MODERATE, True, "moderator"),
        ("group", "join", "member", A.ACKNOWLEDGE, False, "room_kind"),
        ("group", "invite", "member", A.JOIN, True, "invited"),
        ("group", "invite", "member", A.READ, False, "not_member"),
        ("group", "leave", "member", A.READ, False, "not_member"),
        ("group", "ban", "member", A.JOIN, False, "not_member"),
        ("group", None, None, A.READ, False, "not_member"),
        ("missing", None, None, A.SEND, False, "not_member"),
        ("direct", "join", "owner", A.INVITE, False, "room_kind"),
        ("unit_channel", "join", "member", A.INVITE, False, "room_kind"),
        ("broadcast", "join", "member", A.SEND, False, "broadcast_sender"),
        ("broadcast", "join", "moderator", A.SEND, True, "member"),
        ("broadcast", "join", "member", A.ACKNOWLEDGE, True, "member"),
        ("broadcast", "join", "member", A.MODERATE, False, "not_moderator"),
    ],
)
def test_chat_rules(
    kind: str,
    membership: str | None,
    role: str | None,
    action: ChatAction,
    allowed: bool,
    reason: str,
) -> None:
    decision = decide_chat(OFFICER, action, facts(kind, membership, role))
    assert (decision.allowed, decision.reason) == (allowed, reason)


@pytest.mark.parametrize(
    ("actor", "action", "reason"),
    [
        (replace(OFFICER, disabled=True), A.READ, "actor_disabled"),
        (replace(OFFICER, writes_frozen=True), A.SEND, "writes_frozen"),
        (replace(OFFICER, token_scopes=frozenset({"read"})), A.SEND, "token_scope"),
    ],
)
def test_credentials_come_first(actor: Actor, action: ChatAction, reason: str) -> None:
    assert decide_chat(actor, action, facts("group", "join", "owner")).reason == reason


def test_frozen_writes_and_read_tokens_still_read() -> None:
    for actor in (
        replace(OFFICER, writes_frozen=True),
        replace(OFFICER, token_scopes=frozenset({"read"})),
    ):
        assert decide_chat(actor, A.READ, facts("group", "join")).allowed


def test_an_attachment_above_clearance_is_refused_to_a_member() -> None:
    room = replace(facts("group", "join", "owner"), classification=Classification.SECRET)
    assert decide_chat(OFFICER, A.READ, room).reason == "clearance"


@pytest.mark.parametrize(
    ("actor", "unit_id", "allowed"),
    [
        (SUPERVISOR, 10, True),
        (SUPERVISOR, 11, False),
        (OFFICER, 10, False),
        (replace(OFFICER, is_admin=True), 99, True),
        (replace(SUPERVISOR, writes_frozen=True), 10, False),
    ],
)
def test_who_opens_a_broadcast(actor: Actor, unit_id: int, allowed: bool) -> None:
    assert decide_broadcast(actor, unit_id=unit_id).allowed is allowed


@pytest.mark.parametrize(
    ("actor", "room", "allowed", "reason"),
    [
        (OFFICER, facts("group", "join", "owner"), False, "not_admin"),
        (SUPERVISOR, facts("broadcast", "join", "moderator"), False, "not_admin"),
        (replace(OFFICER, is_admin=True), facts("group", None), True, "admin"),
        (replace(OFFICER, is_admin=True, writes_frozen=True), facts("direct", None), True, "admin"),
        (replace(OFFICER, is_admin=True), facts("missing", None), False, "missing"),
        (replace(OFFICER, is_admin=True, disabled=True), facts("group", None), False, None),
        (
            replace(OFFICER, is_admin=True, token_scopes=frozenset({"write"})),
            facts("group", None),
            False,
            None,
        ),
    ],
)
def test_only_administrators_export_a_room(
    actor: Actor, room: ChatRoomFacts, allowed: bool, reason: str | None
) -> None:
    decision = decide_chat_export(actor, room)
    assert decision.allowed is allowed
    if reason is not None:
        assert decision.reason == reason
