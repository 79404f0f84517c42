"""Where a login token may be sent: the app's address checked before anything is minted.

Single sign-on ends with the browser sent to the app's ``redirectUrl`` with ``loginToken`` in its
query. An app's address is an ``https``/``http`` URL or its own scheme (``element://connect``);
schemes that run or read something in the browser are refused.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PAGE = "/account/matrix"
MAX_REDIRECT = 2048
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
#: Schemes that would run or read something in the browser instead of reaching an app.
_REFUSED_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})


def usable_redirect(url: str | None) -> str | None:
    """``url`` if a login token may be sent to it: an absolute URL of an ``https``/``http`` site
    or an app's own scheme (``element://connect``); None otherwise."""
    if not url or len(url) > MAX_REDIRECT or not url.isprintable():
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not _SCHEME.match(scheme) or scheme in _REFUSED_SCHEMES:
        return None
    if scheme in ("http", "https") and not parts.hostname:
        return None
    return url


def with_login_token(url: str, token: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("loginToken", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))
