"""A PROPFIND's ``207 Multi-Status`` body written as text (``dav.fast_propfind``), the same
document WsgiDAV builds as an lxml tree (``wsgidav.util.add_property_response``): one
``<D:response>`` per resource with its href, one ``<D:propstat>`` per status in the order the
statuses first occur, the namespaces other than ``DAV:`` declared on the response (``NS1``,
``NS2``… in the order the names use them).

Text is escaped as lxml escapes it (``&``, ``<``, ``>``; ``\\r`` as a character reference);
hrefs are percent-encoded by the caller as WsgiDAV does (``quote`` keeping ``refs.HREF_SAFE``).
Dates are formatted once per second of a request (a folder's files share few seconds).
"""

from __future__ import annotations

import datetime as dt
import time
from email.utils import formatdate

#: ``<?xml …?>`` as lxml writes it, and the root.
HEAD = "<?xml version='1.0' encoding='UTF-8'?>\n<D:multistatus xmlns:D=\"DAV:\">"
TAIL = "</D:multistatus>"
OK = "200 OK"
NOT_FOUND = "404 Not Found"


def escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


class Dates:
    """RFC 1123 (``getlastmodified``) and RFC 3339 (``creationdate``) times, as WsgiDAV writes
    them (``util.get_rfc1123_time``, ``get_rfc3339_time``: whole seconds), computed once per
    second. A time is a ``datetime`` or SQLite's text for one (``YYYY-MM-DD HH:MM:SS.ffffff``,
    UTC: ``db.base.UTCDateTime``), which is keyed by its seconds unparsed."""

    def __init__(self) -> None:
        self._by_text: dict[str, tuple[str, str]] = {}
        self._by_second: dict[int, tuple[str, str]] = {}

    def both(self, value: dt.datetime | str) -> tuple[str, str]:
        """(RFC 1123, RFC 3339) of ``value``."""
        if isinstance(value, str):
            if len(value) not in (19, 26):  # not SQLAlchemy's form (an offset?): parsed whole
                return self._of(_parsed(value))
            key = value[:19]
            found = self._by_text.get(key)
            if found is None:
                found = self._by_text[key] = self._of(_parsed(value))
            return found
        return self._of(value.timestamp())

    def _of(self, seconds: float) -> tuple[str, str]:
        if seconds < 0:
            return _formatted(seconds)
        key = int(seconds)
        found = self._by_second.get(key)
        if found is None:
            found = self._by_second[key] = _formatted(key)
        return found

    def rfc1123(self, value: dt.datetime | str) -> str:
        return self.both(value)[0]

    def rfc3339(self, value: dt.datetime | str) -> str:
        return self.both(value)[1]


def _parsed(text: str) -> float:
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _formatted(seconds: float) -> tuple[str, str]:
    return (
        formatdate(timeval=seconds, localtime=False, usegmt=True),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)),
    )


class Names:
    """Property names (Clark notation, ``{ns}local``) as the tags of one response: ``D:`` for
    ``DAV:``, ``NS1:``… for the others, declared on the response."""

    def __init__(self) -> None:
        self._tags: dict[str, tuple[str, str]] = {}  # name → (namespace, local name)

    def split(self, name: str) -> tuple[str, str]:
        found = self._tags.get(name)
        if found is None:
            if name.startswith("{"):
                namespace, _, local = name[1:].partition("}")
            else:
                namespace, local = "", name
            found = self._tags[name] = (namespace, local)
        return found


#: One property's answer: its name, its status, and its content as XML text ("" for empty;
#: ``element`` True when the content is a whole element, written in place of ``<name/>``).
Entry = tuple[str, str, str, bool]


def response(names: Names, href: str, entries: list[Entry]) -> str:
    """A ``<D:response>`` (``wsgidav.util.add_property_response``)."""
    prefixes: dict[str, str] = {}
    by_status: dict[str, list[str]] = {}
    for name, status, content, element in entries:
        namespace, local = names.split(name)
        if namespace == "DAV:":
            tag = "D:" + local
        elif namespace == "":
            tag = local
        else:
            prefix = prefixes.get(namespace)
            if prefix is None:
                prefix = prefixes[namespace] = f"NS{len(prefixes) + 1}"
            tag = prefix + ":" + local
        if element and status == OK:
            text = content
        elif content and status == OK:
            text = f"<{tag}>{content}</{tag}>"
        else:
            text = f"<{tag}/>"
        found = by_status.get(status)
        if found is None:
            by_status[status] = [text]
        else:
            found.append(text)
    declared = "".join(
        f' xmlns:{p}="{escape(ns).replace(chr(34), "&quot;")}"' for ns, p in prefixes.items()
    )
    parts = [f"<D:response{declared}><D:href>{escape(href)}</D:href>"]
    for status, texts in by_status.items():
        parts.append("<D:propstat><D:prop>")
        parts.extend(texts)
        parts.append(f"</D:prop><D:status>HTTP/1.1 {status}</D:status></D:propstat>")
    parts.append("</D:response>")
    return "".join(parts)
