"""The WebDAV top level: a folder for each space the caller sees, under the space's name, and
``Shared with me`` (``dav.shared_root``) after them."""

from __future__ import annotations

import hashlib
from typing import Any

from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection

from polaris.dav.context import of as request_of
from polaris.dav.errors import translated
from polaris.dav.refs import join
from polaris.dav.resources import Folder
from polaris.dav.shared_root import NAME, SharedRoot
from polaris.db.uow import transaction
from polaris.drive import paths


class SpacesRoot(DAVCollection):  # type: ignore[misc]
    """The top level: a folder for each space the caller sees. Nothing is made or removed
    here (spaces are made by Polaris for units and users)."""

    def __init__(self, path: str, environ: dict[str, Any]) -> None:
        super().__init__(path, environ)
        self._members: list[Folder] | None = None

    def members(self) -> list[Folder]:
        if self._members is None:
            request = request_of(self.environ)
            named = request.spaces()
            with translated(), transaction(request.session, read_only=True):
                roots = paths.space_roots(session=request.session, spaces=list(named.values()))
            self._members = [
                Folder(join(self.path, name), self.environ, roots[space.id], space, "/" + name)
                for name, space in named.items()
                if space.id in roots
            ]
        return self._members

    def get_member_names(self) -> list[str]:
        return [member.name for member in self.members()] + [NAME]

    def get_member_list(self) -> list[Folder | SharedRoot]:
        return [*self.members(), SharedRoot(join(self.path, NAME), self.environ)]

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(join(self.path, name), self.environ)

    def get_display_name(self) -> str:
        return ""

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}getetag":
            return f'"{self.get_etag()}"'
        return super().get_property_value(name)

    def get_etag(self) -> str:
        """Changes whenever the ETag of a space's root, as the caller sees it, changes."""
        seen = "\n".join(f"{member.ref}:{member.get_etag()}" for member in self.members())
        seen += "\n" + SharedRoot(join(self.path, NAME), self.environ).get_etag()
        return hashlib.sha256(seen.encode()).hexdigest()[:32]

    def support_etag(self) -> bool:
        return True

    def get_last_modified(self) -> float | None:
        times = [member.get_last_modified() for member in self.members()]
        return max(times) if times else None

    def support_modified(self) -> bool:
        return True

    def get_ref_url(self) -> str:
        return "/"

    def prevent_locking(self) -> bool:
        """A lock here would lock every space for everyone."""
        return True

    def create_empty_resource(self, name: str) -> Any:
        raise DAVError(403, context_info="files go into a space's folder")

    def create_collection(self, name: str) -> None:
        raise DAVError(403, context_info="spaces are made by Polaris, not by clients")

    def delete(self) -> None:
        raise DAVError(403)

    def support_recursive_delete(self) -> bool:
        return False

    def get_descendants(self, **options: Any) -> list[Any]:
        """A DELETE here is refused before WsgiDAV walks what is below (it would delete the
        members one by one before it asked this folder)."""
        if self.environ.get("REQUEST_METHOD") == "DELETE":
            raise DAVError(403, context_info="spaces are removed by Polaris, not by clients")
        return super().get_descendants(**options)  # type: ignore[no-any-return]

    def support_recursive_move(self, dest_path: str) -> bool:
        return False

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        raise DAVError(403)
