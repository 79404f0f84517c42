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
    them (``util.get_rfc1123_time``, ``get_rfc3339_time``: whole seconds), cached by second."""

    def __init__(self) -> None:
        self._rfc1123: dict[int, str] = {}
        self._rfc3339: dict[int, str] = {}

    def rfc1123(self, seconds: float) -> str:
        key = int(seconds) if seconds >= 0 else None
        if key is None:
            return formatdate(timeval=seconds, localtime=False, usegmt=True)
        found = self._rfc1123.get(key)
        if found is None:
            found = self._rfc1123[key] = formatdate(timeval=key, localtime=False, usegmt=True)
        return found

    def rfc3339(self, seconds: float) -> str:
        key = int(seconds) if seconds >= 0 else None
        if key is None:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
        found = self._rfc3339.get(key)
        if found is None:
            found = self._rfc3339[key] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key))
        return found


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
