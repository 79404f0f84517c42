"""How a WebDAV resource is named: its path (under this request's address) and its canonical
path (``ref``, the same for every user and under both addresses, which WsgiDAV keys locks by),
each a folder's path and a name; and the characters an href keeps as they are."""

from __future__ import annotations

#: ``quote`` keeps these as they are in an href (WsgiDAV's own choice, for Nautilus).
HREF_SAFE = "/!*'(),$-_|."


def join(path: str, name: str) -> str:
    return path.rstrip("/") + "/" + name
