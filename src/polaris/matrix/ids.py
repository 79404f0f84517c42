"""Matrix identifiers: user ids ``@<username>:<server>``, media URIs ``mxc://<server>/<id>``.

The server name is ``matrix.server_name`` when set, else the request's ``Host`` (docs/matrix.md):
a Matrix user id is a Polaris username with the server name after it.
"""

from __future__ import annotations

import re
import secrets

from starlette.requests import Request

from polaris.config import Settings

#: Media ids Polaris makes: 24 URL-safe letters (144 random bits).
MEDIA_ID_BYTES = 18
_MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DEVICE_ID_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def server_name(settings: Settings, request: Request) -> str:
    return settings.matrix.server_name or request.headers.get("host") or "localhost"


def base_url(settings: Settings, request: Request) -> str:
    if settings.matrix.public_base_url:
        return settings.matrix.public_base_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def user_id(username: str, server: str) -> str:
    return f"@{username}:{server}"


def username_of(identifier: str, server: str) -> str | None:
    """The username a user id or bare localpart names on this server; None for another server's
    user or a malformed id."""
    if not identifier.startswith("@"):
        return identifier
    localpart, colon, domain = identifier[1:].partition(":")
    if not colon or not localpart or domain != server:
        return None
    return localpart


def new_media_id() -> str:
    return secrets.token_urlsafe(MEDIA_ID_BYTES)


def is_media_id(value: str) -> bool:
    return bool(_MEDIA_ID.match(value))


def new_device_id() -> str:
    return "".join(secrets.choice(_DEVICE_ID_LETTERS) for _ in range(10))
