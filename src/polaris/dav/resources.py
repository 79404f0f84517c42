"""The WebDAV resources of the drive's nodes: folders and files (the top level, the caller's
spaces, is ``dav.spaces_root``; a file about to be made by a PUT ``dav.new_file``). Each answers
from a ``Located`` node found for this request and changes the drive only through its services
(``drive.service``, ``content``, ``copying``, ``trash``).

A resource's *canonical path* (``ref``) names it the same way for every user and under both
addresses, ``/dav/…`` and ``/remote.php/dav/files/{user}/…``: the space's folder name, then the
names below it. WsgiDAV keys locks by it (``dav.locks``), so a lock holds across users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from wsgidav import xml_tools
from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection

from polaris.access.policy import Action
from polaris.dav import checksums, nextcloud, properties
from polaris.dav.content import ContentReader, Upload, declared_length
from polaris.dav.context import DavRequest
from polaris.dav.context import of as request_of
from polaris.dav.errors import translated
from polaris.dav.new_file import NewFile
from polaris.dav.refs import HREF_SAFE, join
from polaris.db.uow import transaction
from polaris.drive import copying, paths, service, spaces, stamps, trash
from polaris.drive.content import guess_content_type
from polaris.drive.fields import SpaceFields
from polaris.drive.names import normalise_name
from polaris.drive.paths import Located
from polaris.errors import PolarisError

if TYPE_CHECKING:
    from polaris.dav.provider import PolarisProvider

#: Children read per query when a folder is listed.
PAGE = 1000
#: RFC 4331's properties and the methods that give them (None: not shown to this caller).
QUOTA_PROPERTIES = {
    "{DAV:}quota-used-bytes": "get_used_bytes",
    "{DAV:}quota-available-bytes": "get_available_bytes",
}

_UNKNOWN = object()
#: The Nextcloud clients' properties and the methods that answer them.
NEXTCLOUD_PROPERTIES = {
    f"{nextcloud.OC}fileid": "oc_fileid",
    f"{nextcloud.OC}id": "oc_id",
    f"{nextcloud.OC}permissions": "oc_permissions",
    f"{nextcloud.OC}size": "oc_size",
    f"{nextcloud.OC}checksums": "oc_checksums",
}


class _Node:
    """What folders and files share: stamps as the caller's clearance sees them, the canonical
    path, dead properties."""

    path: str
    environ: dict[str, Any]
    provider: PolarisProvider

    def _init_node(self, located: Located, space: SpaceFields, ref: str) -> None:
        self.located = located
        self.space = space
        self.ref = ref
        self._dead: dict[str, str] | None = None
        self._checksum: object = _UNKNOWN

    @property
    def request(self) -> DavRequest:
        return request_of(self.environ)

    @property
    def node_id(self) -> int:
        return self.located.node.id

    def get_etag(self) -> str:
        return stamps.etag_seen(self.located.node, self.request.actor.clearance)

    def get_last_modified(self) -> float:
        return stamps.modified_seen(self.located.node, self.request.actor.clearance).timestamp()

    def get_creation_date(self) -> float:
        return self.located.node.created_at.timestamp()

    def get_display_name(self) -> str:
        return self.ref.rsplit("/", 1)[-1]

    def support_etag(self) -> bool:
        return True

    def support_modified(self) -> bool:
        return True

    def get_ref_url(self) -> str:
        return quote(self.ref, safe=HREF_SAFE)

    # Dead properties (``dav.properties``)

    def dead_properties(self) -> dict[str, str]:
        if self._dead is None:
            self._dead = properties.of_node(self.request, self.node_id)
        return self._dead

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names: list[str] = super().get_property_names(is_allprop=is_allprop)  # type: ignore[misc]
        return names + list(self.dead_properties())

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}getetag":
            return f'"{self.get_etag()}"'  # an entity tag, quoted (RFC 4918 §15.6)
        if name in QUOTA_PROPERTIES:
            value = getattr(self, QUOTA_PROPERTIES[name])()
            if value is None:
                raise DAVError(404)  # not shown, as not supported: nothing to tell apart
            return str(value)
        if name.startswith("{DAV:}"):
            return super().get_property_value(name)  # type: ignore[misc]
        if name in NEXTCLOUD_PROPERTIES:
            return getattr(self, NEXTCLOUD_PROPERTIES[name])()
        value = self.dead_properties().get(name)
        if value is None:
            raise DAVError(404)
        return xml_tools.string_to_xml(value)

    # The Nextcloud clients' names (``dav.nextcloud``)

    def oc_fileid(self) -> str:
        return str(self.node_id)

    def oc_id(self) -> str:
        return nextcloud.file_id(self.node_id)

    def oc_permissions(self) -> str:
        actions = self.request.permissions().of(self.located)
        return nextcloud.permissions(actions, folder=isinstance(self, Folder))

    def oc_size(self) -> str:
        return str(self.located.node.size)

    def oc_checksums(self) -> Any:
        """``<oc:checksums><oc:checksum>SHA1:… MD5:…</oc:checksum></oc:checksums>`` (Nextcloud's
        form), for a file written over WebDAV; absent otherwise (``dav.checksums``)."""
        version_id = self.located.node.current_version_id
        if self._checksum is _UNKNOWN:
            self._checksum = None
            if version_id is not None and not isinstance(self, Folder):
                with transaction(self.request.session, read_only=True):
                    found = checksums.of_versions(self.request.session, [version_id])
                self._checksum = found.get(version_id)
        if self._checksum is None:
            raise DAVError(404)
        element = xml_tools.etree.Element(f"{nextcloud.OC}checksums")
        xml_tools.etree.SubElement(element, f"{nextcloud.OC}checksum").text = self._checksum
        return element

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        if name in NEXTCLOUD_PROPERTIES:
            raise DAVError(403, context_info="this property is the server's")
        if name.startswith("{DAV:}"):
            return super().set_property_value(name, value, dry_run=dry_run)  # type: ignore[misc]
        text = None if value is None else xml_tools.etree.tostring(value).decode("utf-8")
        if text is not None and len(text.encode("utf-8")) > properties.MAX_VALUE_BYTES:
            raise DAVError(413, context_info="a property value is at most 64 KiB")
        with translated():
            if dry_run:
                properties.check_writable(self.request, self.node_id)
            else:
                properties.write(self.request, self.node_id, name, text)
                self._dead = None
        return None

    def prevent_locking(self) -> bool:
        """A LOCK needs the right to write the node (``access``, audited when refused): a lock
        blocks others' writes, so whoever may only read must not take one. Elsewhere (the
        properties a PROPFIND lists) locking is shown as supported."""
        if self.environ.get("REQUEST_METHOD") != "LOCK":
            return False
        request = self.request
        try:
            with transaction(request.session, read_only=True):
                paths.require(
                    session=request.session,
                    actor=request.actor,
                    context=request.context,
                    node_id=self.node_id,
                    action=Action.WRITE,
                )
        except PolarisError:
            return True
        return False

    def remove_all_properties(self, *, recursive: bool) -> None:
        """Dead properties stay with the node (in the trash too) and go with its purge."""

    # Writes shared by folders and files

    def delete(self) -> None:
        request = self.request
        with translated(), transaction(request.session):
            trash.trash_node(
                session=request.session,
                actor=request.actor,
                context=request.context,
                node_id=self.node_id,
            )
        request.changed()
        self.remove_all_locks(recursive=True)  # type: ignore[attr-defined]

    def _destination(self, dest_path: str) -> tuple[Folder, str]:
        """The folder a MOVE or COPY goes into and the new name."""
        parent_path, _, name = dest_path.rstrip("/").rpartition("/")
        parent = self.provider.get_resource_inst(parent_path or "/", self.environ)
        if not isinstance(parent, Folder):
            raise DAVError(409, context_info="the destination's folder is not a folder you can use")
        with translated():
            return parent, normalise_name(name)

    def _move(self, dest_path: str) -> None:
        parent, name = self._destination(dest_path)
        request = self.request
        with translated(), transaction(request.session):
            service.update_node(
                session=request.session,
                actor=request.actor,
                context=request.context,
                node_id=self.node_id,
                name=name,
                parent_id=parent.node_id,
            )
        request.changed()
        self.remove_all_locks(recursive=True)  # type: ignore[attr-defined]

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def move_recursive(self, dest_path: str) -> list[Any]:
        self._move(dest_path)
        return []

    def _copy_file(self, dest_path: str) -> None:
        """Copy onto a file of the destination's name replaces it (it goes to the trash)."""
        parent, name = self._destination(dest_path)
        replaced = self.provider.get_resource_inst(dest_path, self.environ)
        request = self.request
        with translated(), transaction(request.session):
            if isinstance(replaced, File):
                trash.trash_node(
                    session=request.session,
                    actor=request.actor,
                    context=request.context,
                    node_id=replaced.node_id,
                )
            copied = copying.copy_node(
                session=request.session,
                actor=request.actor,
                context=request.context,
                blobs=request.instance.blobs,
                node_id=self.node_id,
                parent_id=parent.node_id,
                name=name,
            )
            properties.copy(request.session, self.node_id, copied.node.id)
            checksums.copy(
                request.session,
                self.located.node.current_version_id,
                copied.node.current_version_id,
            )
        request.changed()


class Folder(_Node, DAVCollection):  # type: ignore[misc]
    def __init__(
        self, path: str, environ: dict[str, Any], located: Located, space: SpaceFields, ref: str
    ) -> None:
        DAVCollection.__init__(self, path, environ)
        self._init_node(located, space, ref)

    # RFC 4331 quotas: only for whoever may see the whole space (``spaces.usage_visible``),
    # since the usage counts what is hidden from the others.

    def _usage_visible(self) -> bool:
        return spaces.usage_visible(self.request.actor, self.space)

    def get_used_bytes(self) -> int | None:
        return self.space.used_bytes if self._usage_visible() else None

    def get_available_bytes(self) -> int | None:
        if self.space.quota_bytes is None or not self._usage_visible():
            return None
        return max(self.space.quota_bytes - self.space.used_bytes, 0)

    def children(self) -> list[Located]:
        request = self.request
        found: list[Located] = []
        cursor: str | None = None
        while True:
            with translated(), transaction(request.session, read_only=True):
                _, page = service.list_children(
                    session=request.session,
                    actor=request.actor,
                    context=request.context,
                    folder_id=self.node_id,
                    limit=PAGE,
                    cursor=cursor,
                )
            found += page.items
            cursor = page.next_cursor
            if cursor is None:
                return found

    def child(self, located: Located) -> Folder | File:
        path = join(self.path, located.node.name)
        ref = join(self.ref, located.node.name)
        kind = Folder if located.is_folder else File
        resource = kind(path, self.environ, located, self.space, ref)
        self.request.found[path] = resource
        return resource

    def get_member_names(self) -> list[str]:
        return [located.node.name for located in self.children()]

    def get_member_list(self) -> list[Folder | File]:
        members = [self.child(located) for located in self.children()]
        dead = properties.of_nodes(self.request, [member.node_id for member in members])
        versions = [
            version_id
            for member in members
            if isinstance(member, File)
            and (version_id := member.located.node.current_version_id) is not None
        ]
        with transaction(self.request.session, read_only=True):
            sums = checksums.of_versions(self.request.session, versions)
        for member in members:
            member._dead = dead[member.node_id]
            if isinstance(member, File):
                member._checksum = sums.get(member.located.node.current_version_id or 0)
        return members

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(join(self.path, name), self.environ)

    def create_empty_resource(self, name: str) -> NewFile | File:
        """For a PUT, a file to be: it is made with its body (one version, not an empty one
        first). A LOCK of a name not in use makes an empty file now (RFC 4918 §7.3)."""
        with translated():
            name = normalise_name(name)
        made = NewFile(join(self.path, name), self.environ, self, name)
        if self.environ.get("REQUEST_METHOD") != "LOCK":
            return made
        made.end_write(with_errors=False, upload=made.begin_write(empty=True))
        assert made.located is not None
        return self.child(made.located)

    def create_collection(self, name: str) -> None:
        request = self.request
        with translated(), transaction(request.session):
            service.create_folder(
                session=request.session,
                actor=request.actor,
                context=request.context,
                parent_id=self.node_id,
                name=name,
            )
        request.changed()

    def support_recursive_delete(self) -> bool:
        return True

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        """A COPY makes the folder, or keeps the one of that name (WsgiDAV copies what is below
        it one by one)."""
        if is_move:
            self._move(dest_path)
            return
        parent, name = self._destination(dest_path)
        request = self.request
        with translated(), transaction(request.session):
            service.ensure_folder(
                session=request.session,
                actor=request.actor,
                context=request.context,
                parent_id=parent.node_id,
                name=name,
            )
        request.changed()


class File(_Node, DAVNonCollection):  # type: ignore[misc]
    def __init__(
        self, path: str, environ: dict[str, Any], located: Located, space: SpaceFields, ref: str
    ) -> None:
        DAVNonCollection.__init__(self, path, environ)
        self._init_node(located, space, ref)
        self._upload: Upload | None = None

    def get_content_length(self) -> int:
        return self.located.node.size

    def get_content_type(self) -> str:
        return self.located.node.content_type or guess_content_type(self.located.node.name)

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> ContentReader:
        return ContentReader(self.request, self.node_id)

    def begin_write(self, *, content_type: str | None = None) -> Upload:
        self._upload = Upload(
            self.request, declared_length(self.environ), environ=self.environ, node_id=self.node_id
        )
        return self._upload

    def end_write(self, *, with_errors: bool) -> None:
        if self._upload is None:
            return  # begin_write refused the upload
        if with_errors:
            self._upload.abort()
            return
        self.located = self._upload.finish()

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        if is_move:
            self._move(dest_path)
        else:
            self._copy_file(dest_path)
