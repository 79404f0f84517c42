"""``Shared with me``: a folder at the WebDAV top level holding what others shared with the
caller, as the drive's **Shared with me** page lists it (``drive.shares.shared_with_me``: live,
unexpired shares reaching the caller, to them, their unit or a group, on nodes they may read
now).

The name is fixed and the same in every language (:data:`NAME`): a sync client keeps folders by
name, and a name that changed with the person's language would make it download everything
again. Below it each shared node is a folder or file of its own name (two of one name are told
apart by the node's id, ``report (42).pdf``), served by the same resources as everywhere else
(``dav.resources``): every read and write goes through the drive's services and ``access``,
so what a share allows (read, or write) is what WebDAV allows, and its end (revoked, expired)
ends it on the next request. The folder itself is read-only: nothing is made, moved or removed
in it (a shared node is removed by its owner, or by whoever may delete it, in its own space).

A shared node's canonical path (``ref``, what locks are keyed by) is the one it has in its own
space, so a lock taken by its owner holds against the person it was shared with, and the other
way round.
"""

from __future__ import annotations

import hashlib
from typing import Any

from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection

from polaris.dav.context import of as request_of
from polaris.dav.errors import translated
from polaris.dav.refs import join
from polaris.dav.resources import File, Folder
from polaris.db.uow import transaction
from polaris.drive import shares
from polaris.drive.names import repair_name
from polaris.drive.paths import Located

#: The folder's name at the top level (docs/clients.md), in every language.
NAME = "Shared with me"


def shared_nodes(environ: dict[str, Any]) -> dict[str, Located]:
    """The nodes shared with the caller by the name they have here (read once per request)."""
    request = request_of(environ)
    if request.shared is None:
        with translated(), transaction(request.session, read_only=True):
            found = shares.shared_with_me(session=request.session, actor=request.actor)
        named: dict[str, Located] = {}
        taken: set[str] = set()
        seen: set[int] = set()
        for item in sorted(found, key=lambda shared: shared.located.node.id):
            node = item.located.node
            if node.id in seen:  # shared with the caller twice (to them and to their unit)
                continue
            seen.add(node.id)
            name = node.name
            if name.casefold() in taken:
                stem, dot, extension = name.rpartition(".")
                name = f"{stem} ({node.id}).{extension}" if dot and stem else f"{name} ({node.id})"
            taken.add(name.casefold())
            named[name] = item.located
        request.shared = named
    return request.shared


def canonical(located: Located) -> str:
    """The node's path in its own space, as its owner's WebDAV names it (for locks)."""
    space, _ = repair_name(located.space.name)
    return "/" + space + located.display_path


def resource(path: str, environ: dict[str, Any], located: Located) -> Folder | File:
    kind = Folder if located.is_folder else File
    return kind(path, environ, located, located.space, canonical(located))


class SharedRoot(DAVCollection):  # type: ignore[misc]
    """The folder of what is shared with the caller; read-only itself."""

    def __init__(self, path: str, environ: dict[str, Any]) -> None:
        super().__init__(path, environ)

    def get_member_names(self) -> list[str]:
        return list(shared_nodes(self.environ))

    def get_member_list(self) -> list[Folder | File]:
        return [
            resource(join(self.path, name), self.environ, located)
            for name, located in shared_nodes(self.environ).items()
        ]

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(join(self.path, name), self.environ)

    def get_display_name(self) -> str:
        return NAME

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}getetag":
            return f'"{self.get_etag()}"'
        return super().get_property_value(name)

    def get_etag(self) -> str:
        """Changes when a share begins or ends, or anything shared changes as the caller sees it."""
        members = self.get_member_list()
        seen = "\n".join(f"{member.name}:{member.get_etag()}" for member in members)
        return hashlib.sha256(("shared\n" + seen).encode()).hexdigest()[:32]

    def support_etag(self) -> bool:
        return True

    def get_last_modified(self) -> float | None:
        times = [member.get_last_modified() for member in self.get_member_list()]
        return max(times) if times else None

    def support_modified(self) -> bool:
        return True

    def get_ref_url(self) -> str:
        return "/" + NAME.replace(" ", "%20")

    def prevent_locking(self) -> bool:
        return True

    def create_empty_resource(self, name: str) -> Any:
        raise DAVError(403, context_info="files go into a shared folder, not beside them")

    def create_collection(self, name: str) -> None:
        raise DAVError(403, context_info="nothing is made here: folders are shared by others")

    def delete(self) -> None:
        raise DAVError(403)

    def support_recursive_delete(self) -> bool:
        return False

    def get_descendants(self, **options: Any) -> list[Any]:
        """A DELETE here is refused before WsgiDAV walks what is below (it would delete the
        members one by one before it asked this folder)."""
        if self.environ.get("REQUEST_METHOD") == "DELETE":
            raise DAVError(403, context_info="nothing shared with you is removed from here")
        return super().get_descendants(**options)  # type: ignore[no-any-return]

    def support_recursive_move(self, dest_path: str) -> bool:
        return False

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        raise DAVError(403)
