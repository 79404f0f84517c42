"""The chat page's group panel: who is in the group, and for those who may moderate it
(``access.policy.decide_chat``, ``moderate``: its owner and moderators) a form to rename it and
a button to remove each member but the owner. The forms call ``chat.rooms.rename`` and
``chat.rooms.kick``, which decide again through ``polaris.access`` and audit: the page only
offers what would be allowed, it does not decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from polaris.access.policy import ChatAction, ChatRoomFacts, decide_chat
from polaris.chat import rooms
from polaris.chat.models import INVITE, JOIN, OWNER
from polaris.chat.present import user_names
from polaris.chat.schemas import RoomRead
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.web.pages import PageCaller
from polaris.web.params import Id

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    membership: str
    role: str
    #: The viewer may remove them (a moderator; never the owner, nor oneself: one leaves).
    removable: bool


@dataclass(frozen=True)
class GroupPanel:
    members: list[Member]
    may_moderate: bool


def group_panel(session: Session, caller: PageCaller, room: RoomRead) -> GroupPanel:
    """The joined and invited members of a group the viewer is joined to, in name order."""
    facts = ChatRoomFacts(room.id, room.kind, room.membership, room.role)
    may_moderate = decide_chat(caller.actor, ChatAction.MODERATE, facts).allowed
    found = rooms.members(
        session=session, actor=caller.actor, context=caller.context, room_id=room.id
    )
    present = [m for m in found if m.membership in (JOIN, INVITE)]
    names = user_names(session, [m.user_id for m in present])
    me = caller.actor.user_id
    members = [
        Member(
            m.user_id,
            names.get(m.user_id, ""),
            m.membership,
            m.role,
            may_moderate and m.role != OWNER and m.user_id != me,
        )
        for m in present
    ]
    members.sort(key=lambda m: (m.name.casefold(), m.user_id))
    return GroupPanel(members, may_moderate)


def _back(room_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/chat/{room_id}{anchor}", status_code=303)


@router.post("/chat/{room_id}/rename")
def rename(
    room_id: Id,
    caller: PageCaller,
    session: DbSession,
    name: Annotated[str, Form(max_length=1000)],
) -> Response:
    with transaction(session):
        rooms.rename(
            session=session, actor=caller.actor, context=caller.context, room_id=room_id, name=name
        )
    return _back(room_id)


@router.post("/chat/{room_id}/remove/{user_id}")
def remove(room_id: Id, user_id: Id, caller: PageCaller, session: DbSession) -> Response:
    with transaction(session):
        rooms.kick(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            user_id=user_id,
        )
    return _back(room_id, "#members")
