"""The messenger: rooms, their members and an ordered timeline of events per room.

No HTTP here: the Matrix client-server API, the sync paths and the pages are thin translations on
top of these services (docs/chat.md). Every permission decision goes through ``polaris.access``
(``require_chat``); every change appends a ``chat.*`` event to the change stream.
"""
