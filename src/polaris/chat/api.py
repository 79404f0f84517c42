"""JSON routes of the messenger (``/api/v1/chat/...``), one router made of the modules that each
serve one part: rooms and membership (``api_rooms``), messages and receipts (``api_messages``),
broadcast acknowledgements (``api_broadcasts``), attachments (``api_attachments``), typing
(``api_typing``), an inquiry's export (``api_export``) and the sync, long-poll and WebSocket
(``api_sync``). The order is the routes' order (and the docs' tables). Message search,
``/chat/search``, is served by ``search.api_messages``: search builds on chat.

Routes are thin: read input, run one service call in a transaction, shape the answer. Every
decision is the chat services' (``polaris.access`` through ``chat.rooms.require_room``).
"""

from __future__ import annotations

from fastapi import APIRouter

from polaris.chat import (
    api_attachments,
    api_broadcasts,
    api_export,
    api_messages,
    api_rooms,
    api_sync,
    api_typing,
)

router = APIRouter(prefix="/chat", tags=["chat"])
for part in (
    api_rooms,
    api_messages,
    api_broadcasts,
    api_attachments,
    api_typing,
    api_export,
    api_sync,
):
    router.include_router(part.router)
