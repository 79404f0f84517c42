"""PROPFIND of a drive folder (``Depth: 0`` or ``1``) or a file (``Depth: 0``), answered from
rows: the same ``207 Multi-Status`` WsgiDAV answers, without its resource objects and lxml tree.

WsgiDAV builds an object per child (and Polaris a ``Node`` and a ``Located`` under it), asks each
for every property through several layers, and builds the answer as an lxml tree: for a folder of
10,000 files that was 1.5 s of CPU (docs/performance.md). Here the children are rows of one
Core select (``dav.listing_repo``, shaped by ``dav.listing_rows``) and the answer is text
(``dav.multistatus``).

It is WsgiDAV's handler for PROPFIND, through the provider's ``custom_request_handler`` hook:
WsgiDAV has resolved the provider, normalised the path and lower-cased ``Depth`` before, and its
wrapper adds the same headers after. The resource is found by ``provider.get_resource_inst``,
the very call WsgiDAV makes, so a hidden node and a missing one are the same ``None`` (the
denial audited once: the request remembers what it found) and the folder was authorised by
``access`` on the way; the listing asks ``access`` again for the folder (as
``drive.service.list_children`` does, from the node found: no query) and filters children by
clearance in its query as ``drive.repo.children_page`` does; ``oc:permissions`` is decided by
``access`` per space, level and shares (``Permissions.of_child``), as for the ``Located`` child.

Anything else goes to WsgiDAV's own handler, which answers as before (``fallback``): another
depth, a conditional request (``If``, ``If-Match``…), ``propname``, a body WsgiDAV refuses or
reads differently, the top level and ``Shared with me`` (no folder of the drive), a dead
property or a lock owner that does not parse. Locks are described as WsgiDAV describes them
(``lockdiscovery``: the locks rooted at the resource), from the request's one read of the live
locks (``dav.locks``).
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Callable, Iterable
from typing import Any

from wsgidav import util, xml_tools
from wsgidav.dav_error import DAVError
from wsgidav.lock_man.lock_manager import normalize_lock_root
from wsgidav.xml_tools import etree

from polaris.access import service as access
from polaris.access.policy import Action
from polaris.clock import utcnow
from polaris.dav import checksums, listing_repo, listing_rows, multistatus, nextcloud
from polaris.dav.context import DavRequest
from polaris.dav.context import of as request_of
from polaris.dav.errors import translated
from polaris.dav.listing_repo import Child
from polaris.dav.multistatus import NOT_FOUND, OK, Entry
from polaris.dav.refs import href_quote, join
from polaris.dav.resources import File, Folder
from polaris.db.uow import transaction
from polaris.drive import spaces
from polaris.drive.content import guess_content_type
from polaris.drive.models import FOLDER, Share

#: Off, PROPFIND goes to WsgiDAV's own handler (the tests compare both answers).
ENABLED = True
#: A body larger than this is left to WsgiDAV (a PROPFIND body names a few properties).
MAX_BODY = 256 * 1024
CONDITIONAL = (
    "HTTP_IF",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)
DAV = "{DAV:}"
OC = nextcloud.OC
SUPPORTED_LOCK = (
    "<D:supportedlock>"
    "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>"
    "<D:locktype><D:write/></D:locktype></D:lockentry>"
    "<D:lockentry><D:lockscope><D:shared/></D:lockscope>"
    "<D:locktype><D:write/></D:locktype></D:lockentry>"
    "</D:supportedlock>"
)
COLLECTION = "<D:resourcetype><D:collection/></D:resourcetype>"
StartResponse = Callable[..., Any]
Handler = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Fallback(Exception):
    """This request is WsgiDAV's to answer."""


def handle(
    provider: Any, environ: dict[str, Any], start_response: StartResponse, default: Handler
) -> Iterable[bytes]:
    """The provider's ``custom_request_handler``: PROPFIND here when it can, else WsgiDAV."""
    if (
        not ENABLED
        or environ.get("REQUEST_METHOD") != "PROPFIND"
        or not request_of(environ).instance.settings.dav.fast_propfind
    ):
        return default(environ, start_response)
    try:
        body = answer(provider, environ)
    except Fallback:
        body = None
    if body is None:
        return default(environ, start_response)
    start_response(
        "207 Multi-Status",
        [
            ("Content-Type", "application/xml; charset=utf-8"),
            ("Date", util.get_rfc1123_time()),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def answer(provider: Any, environ: dict[str, Any]) -> bytes | None:
    """The multistatus body, or None to leave the request to WsgiDAV."""
    depth = environ.get("HTTP_DEPTH")
    if depth not in ("0", "1") or any(environ.get(name) for name in CONDITIONAL):
        return None
    if provider.lock_manager is None:
        return None
    resource = provider.get_resource_inst(environ["PATH_INFO"], environ)
    if type(resource) not in (Folder, File):
        return None
    asked = _asked(environ)
    if asked is None:
        return None
    mode, names = asked
    listing = Listing(provider, environ, resource, depth == "1" and type(resource) is Folder)
    return listing.write(mode, names)


def _asked(environ: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(``allprop`` or ``named``, names) from the body, read as WsgiDAV reads it; the body is
    put back for WsgiDAV. None: WsgiDAV answers (``propname``, or a body it refuses)."""
    length = str(environ.get("CONTENT_LENGTH", "")).strip()
    if length:
        if not length.isdigit() or int(length) > MAX_BODY:
            return None
        raw = environ["wsgi.input"].read(int(length)) if int(length) else b""
        environ["wsgi.input"] = io.BytesIO(raw)
    try:
        root = util.parse_xml_body(environ, allow_empty=True)
    except DAVError:
        root = False
    finally:
        if length:
            environ["wsgi.input"] = io.BytesIO(raw)
            environ.pop("wsgidav.all_input_read", None)
    if root is False:
        return None
    if root is None:
        return "allprop", []
    if root.tag != f"{DAV}propfind":
        return None
    mode: str | None = None
    names: list[str] = []
    for node in root:
        if node.tag == f"{DAV}allprop":
            if mode:
                return None
            mode = "allprop"
        elif node.tag == f"{DAV}name":
            return None
        elif node.tag == f"{DAV}prop":
            if mode not in (None, "named"):
                return None
            mode = "named"
            for named in node:
                if not isinstance(named.tag, str):
                    return None  # a comment or processing instruction: WsgiDAV's to answer
                names.append(named.tag)
    return mode or "named", names


class Listing:
    """One PROPFIND's resources (the resource asked for, then its children) and their
    properties."""

    def __init__(self, provider: Any, environ: dict[str, Any], resource: Any, deep: bool) -> None:
        self.provider = provider
        self.environ = environ
        self.resource = resource
        self.deep = deep
        self.request: DavRequest = request_of(environ)
        self.clearance = int(self.request.actor.clearance)
        self.dates = multistatus.Dates()
        self.names = multistatus.Names()
        self.located = resource.located
        self.level = int(self.located.classification)
        self.is_folder_resource = type(resource) is Folder
        self._elements: dict[str, str] = {}
        self._letters: dict[tuple[int, str, tuple[int, ...]], str] = {}
        self.quota: tuple[str | None, str | None] = (None, None)
        if self.is_folder_resource and spaces.usage_visible(self.request.actor, resource.space):
            used = resource.space.used_bytes
            quota = resource.space.quota_bytes
            self.quota = (
                str(used),
                None if quota is None else str(max(quota - used, 0)),
            )

    # Reading

    def write(self, mode: str, names: list[str]) -> bytes:
        allprop = mode == "allprop"
        wanted = set(names)
        need_dead = allprop or any(not _known(name) for name in wanted)
        need_sums = f"{OC}checksums" in wanted
        need_shares = f"{OC}permissions" in wanted
        session = self.request.session
        node = self.located.node
        children: list[Child] = []
        shares: dict[int, list[Share]] = {}
        dead: dict[int, dict[str, str]] = {}
        sums: dict[int, str] = {}
        with translated(), transaction(session, read_only=True):
            if self.deep:
                access.require(
                    session=session,
                    actor=self.request.actor,
                    action=Action.READ,
                    resource=self.located.resource(),
                    context=self.request.context,
                )
                children = listing_repo.children(session, node.id, self.clearance)
                if need_shares:
                    shares = listing_rows.shares_by_child(session, node.id, utcnow())
                if need_sums:
                    sums = listing_rows.checksums_by_version(session, node.id)
            if need_dead:
                dead = listing_rows.dead_properties_by_node(
                    session, node.id, with_children=self.deep
                )
            if need_sums and not self.is_folder_resource and node.current_version_id is not None:
                sums.update(checksums.of_versions(session, [node.current_version_id]))
        locks = self._locks()
        own = listing_rows.row_of(node, self.clearance)
        parts = [multistatus.HEAD]
        href = self.resource.get_href()
        parts.append(
            self._response(
                own,
                href,
                self.resource.get_ref_url(),
                self.resource.get_display_name(),
                allprop,
                names,
                dead.get(own.id, {}),
                sums,
                locks,
                self._own_permissions,
            )
        )
        if children:
            prefix = href_quote(
                self.provider.mount_path
                + self.provider.share_path
                + self.resource.path.rstrip("/")
                + "/"
            )
            for child in children:
                name = href_quote(child.name)
                ref_url = href_quote(join(self.resource.ref, child.name)) if locks else ""
                parts.append(
                    self._response(
                        child,
                        prefix + name + ("/" if child.kind == FOLDER else ""),
                        ref_url,
                        child.name,
                        allprop,
                        names,
                        dead.get(child.id, {}),
                        sums,
                        locks,
                        functools.partial(self._child_permissions, child, shares),
                    )
                )
        parts.append(multistatus.TAIL)
        text = "".join(parts)
        if "\ufffe" in text or "\uffff" in text:
            raise Fallback  # a name no XML may hold (names allow them): WsgiDAV answers
        return text.encode("utf-8")

    def _own_permissions(self) -> str:
        actions = self.request.permissions().of(self.located)
        return nextcloud.permissions(actions, folder=self.is_folder_resource)

    def _child_permissions(self, child: Child, shares: dict[int, list[Share]]) -> str:
        """``oc:permissions`` of a child: ``access``'s decision for its effective level and
        shares (``Permissions.of_child``), its letters once per decision and kind."""
        own = shares.get(child.id)
        level = max(self.level, child.classification)
        key = (level, child.kind, tuple(share.id for share in own) if own else ())
        found = self._letters.get(key)
        if found is None:
            actions = self.request.permissions().of_child(
                self.located, child.id, level, self.located.shares + tuple(own or ())
            )
            found = self._letters[key] = nextcloud.permissions(actions, folder=child.kind == FOLDER)
        return found

    def _locks(self) -> dict[str, list[dict[str, Any]]]:
        """The live locks rooted at the resource (and its children), by root."""
        found = self.provider.lock_manager.storage.get_lock_list(
            normalize_lock_root(self.resource.get_ref_url()),
            include_root=True,
            include_children=self.deep,
            token_only=False,
        )
        by_root: dict[str, list[dict[str, Any]]] = {}
        for lock in found:
            by_root.setdefault(str(lock["root"]), []).append(lock)
        return by_root

    # Writing

    def _response(
        self,
        row: Child,
        href: str,
        ref_url: str,
        display: str,
        allprop: bool,
        names: list[str],
        dead: dict[str, str],
        sums: dict[int, str],
        locks: dict[str, list[dict[str, Any]]],
        permissions: Callable[[], str],
    ) -> str:
        if allprop:
            names = self._allprop_names(row, dead)
        entries: list[Entry] = []
        for name in names:
            entries.append(
                self._entry(name, row, href, ref_url, display, dead, sums, locks, permissions)
            )
        return multistatus.response(self.names, href, entries)

    def _allprop_names(self, row: Child, dead: dict[str, str]) -> list[str]:
        """``_Node.get_property_names(is_allprop=True)``."""
        names = [f"{DAV}resourcetype", f"{DAV}creationdate"]
        if row.kind != FOLDER:
            names += [f"{DAV}getcontentlength", f"{DAV}getcontenttype"]
        else:
            if self.quota[0] is not None:
                names.append(f"{DAV}quota-used-bytes")
            if self.quota[1] is not None:
                names.append(f"{DAV}quota-available-bytes")
        names += [
            f"{DAV}getlastmodified",
            f"{DAV}displayname",
            f"{DAV}getetag",
            f"{DAV}lockdiscovery",
            f"{DAV}supportedlock",
        ]
        return names + list(dead)

    def _entry(
        self,
        name: str,
        row: Child,
        href: str,
        ref_url: str,
        display: str,
        dead: dict[str, str],
        sums: dict[int, str],
        locks: dict[str, list[dict[str, Any]]],
        permissions: Callable[[], str],
    ) -> Entry:
        """``_Node.get_property_value`` (and WsgiDAV's for the ``DAV:`` names)."""
        esc = multistatus.escape
        if name.startswith(DAV):
            local = name[6:]
            if local == "getetag":
                return (name, OK, esc(f'"{row.etag}"'), False)
            if local == "getlastmodified":
                return (name, OK, self.dates.rfc1123(row.modified), False)
            if local == "resourcetype":
                return (name, OK, COLLECTION, True) if row.kind == FOLDER else (name, OK, "", False)
            if local == "getcontentlength":
                return (
                    (name, NOT_FOUND, "", False)
                    if row.kind == FOLDER
                    else (name, OK, str(row.size), False)
                )
            if local == "creationdate":
                return (name, OK, self.dates.rfc3339(row.created), False)
            if local == "displayname":
                return (name, OK, esc(display), False)
            if local == "getcontenttype":
                if row.kind == FOLDER:
                    return (name, NOT_FOUND, "", False)
                kind = row.content_type or guess_content_type(row.name)
                return (name, OK, esc(kind), False)
            if local == "quota-used-bytes" or local == "quota-available-bytes":
                value = self.quota[0 if local == "quota-used-bytes" else 1]
                if value is None or row.kind != FOLDER:
                    return (name, NOT_FOUND, "", False)
                return (name, OK, value, False)
            if local == "lockdiscovery":
                return (name, OK, self._lockdiscovery(href, ref_url, locks), True)
            if local == "supportedlock":
                return (name, OK, SUPPORTED_LOCK, True)
            return (name, NOT_FOUND, "", False)
        if name.startswith(OC):
            local = name[len(OC) :]
            if local == "fileid":
                return (name, OK, str(row.id), False)
            if local == "id":
                return (name, OK, nextcloud.file_id(row.id), False)
            if local == "permissions":
                return (name, OK, permissions(), False)
            if local == "size":
                return (name, OK, str(row.size), False)
            if local == "checksums":
                found = None
                if row.kind != FOLDER and row.current_version_id is not None:
                    found = sums.get(row.current_version_id)
                if found is None:
                    return (name, NOT_FOUND, "", False)
                return (name, OK, self._checksums(found), True)
        value = dead.get(name)
        if value is None:
            return (name, NOT_FOUND, "", False)
        return (name, OK, self._dead_element(value), True)

    def _element(self, element: Any) -> str:
        return str(etree.tostring(element, encoding="unicode", with_tail=False))

    def _dead_element(self, value: str) -> str:
        found = self._elements.get(value)
        if found is None:
            try:
                parsed = xml_tools.string_to_xml(value)
            except Exception:
                raise Fallback from None  # WsgiDAV answers what it answers for it
            found = self._elements[value] = self._element(parsed)
        return found

    def _checksums(self, value: str) -> str:
        """``<oc:checksums><oc:checksum>…</oc:checksum></oc:checksums>``: ``oc_checksums``."""
        return (
            f'<oc:checksums xmlns:oc="{OC[1:-1]}"><oc:checksum>{multistatus.escape(value)}'
            "</oc:checksum></oc:checksums>"
        )

    def _lockdiscovery(
        self, href: str, ref_url: str, locks: dict[str, list[dict[str, Any]]]
    ) -> str:
        """WsgiDAV's ``lockdiscovery``: the locks rooted at this resource, whose root is the
        resource itself (its href)."""
        found = locks.get(normalize_lock_root(ref_url)) if locks and ref_url else None
        if not found:
            return "<D:lockdiscovery/>"
        element = etree.Element(f"{DAV}lockdiscovery", nsmap={"D": "DAV:"})
        for lock in found:
            active = etree.SubElement(element, f"{DAV}activelock")
            etree.SubElement(etree.SubElement(active, f"{DAV}locktype"), DAV + lock["type"])
            etree.SubElement(etree.SubElement(active, f"{DAV}lockscope"), DAV + lock["scope"])
            etree.SubElement(active, f"{DAV}depth").text = lock["depth"]
            if lock["owner"]:
                try:
                    active.append(xml_tools.string_to_xml(lock["owner"]))
                except Exception:
                    raise Fallback from None
            timeout = lock["timeout"]
            if timeout < 0:
                shown = "Infinite"
            else:
                shown = "Second-" + str(int(lock["expire"] - time.time()))
            etree.SubElement(active, f"{DAV}timeout").text = shown
            token = etree.SubElement(active, f"{DAV}locktoken")
            etree.SubElement(token, f"{DAV}href").text = lock["token"]
            root = etree.SubElement(active, f"{DAV}lockroot")
            etree.SubElement(root, f"{DAV}href").text = href
        return self._element(element)


def _known(name: str) -> bool:
    """A property answered without the dead properties: ``DAV:`` and the Nextcloud ones."""
    return name.startswith(DAV) or (
        name.startswith(OC)
        and name[len(OC) :] in ("fileid", "id", "permissions", "size", "checksums")
    )
