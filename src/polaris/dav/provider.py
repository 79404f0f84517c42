"""WsgiDAV's provider: a path to a resource, for one request's caller.

Two providers serve the same tree: at ``/dav`` (a mapped drive) and at
``/remote.php/dav/files`` (the Nextcloud layout), where the first name of the path is the
caller's username. Besides the caller's spaces the top level holds ``Shared with me``
(``dav.shared_root``). Another user's name there, a space the caller does not see, a name the drive
refuses, a missing name and a node the caller may not read all answer None, which WsgiDAV turns
into the same 404 (the refused node's denial is audited by ``access``).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote

from wsgidav.dav_provider import DAVProvider

from polaris.dav import fast_propfind, shared_root
from polaris.dav.context import DavRequest
from polaris.dav.context import of as request_of
from polaris.dav.errors import dav_error
from polaris.dav.resources import File, Folder
from polaris.dav.spaces_root import SpacesRoot
from polaris.db.uow import transaction
from polaris.drive import paths
from polaris.errors import NotFound, PolarisError

#: The caller's username while a request of the Nextcloud layout is served, for
#: :meth:`PolarisProvider.ref_url_to_path` (WsgiDAV gives it no request).
_serving = threading.local()
_MISSING = object()


def serving(username: str | None) -> None:
    _serving.username = username


class PolarisProvider(DAVProvider):  # type: ignore[misc]
    def __init__(self, *, per_user: bool) -> None:
        super().__init__()
        self.per_user = per_user

    def __repr__(self) -> str:
        return f"PolarisProvider(per_user={self.per_user})"

    def is_readonly(self) -> bool:
        return False

    def custom_request_handler(
        self, environ: dict[str, Any], start_response: Any, default_handler: Any
    ) -> Any:
        """PROPFIND of a drive folder or file is answered from rows (``dav.fast_propfind``)."""
        return fast_propfind.handle(self, environ, start_response, default_handler)

    def ref_url_to_path(self, ref_url: str) -> str:
        """A lock's root (a canonical path) as a path of this provider, for ``lockdiscovery``."""
        path = unquote(ref_url)
        if self.per_user:
            return "/" + str(getattr(_serving, "username", "")) + path
        return path

    def get_resource_inst(self, path: str | None, environ: dict[str, Any]) -> Any:
        if path is None:  # WsgiDAV asks for the parent of the top level (a DELETE of it)
            return None
        request = request_of(environ)
        found = request.found.get(path, _MISSING)
        if found is _MISSING:
            found = request.found[path] = self._find(path, environ, request)
        return found

    def _find(self, path: str, environ: dict[str, Any], request: DavRequest) -> Any:
        names = [name for name in path.split("/") if name]
        if self.per_user:
            if not names or names[0] != request.username:
                return None
            names = names[1:]
        if not names:
            return SpacesRoot(path, environ)
        if names[0] == shared_root.NAME:
            return self._find_shared(path, environ, request, names[1:])
        space = request.spaces().get(names[0])
        if space is None or space.root_id is None:
            return None
        try:
            with transaction(request.session, read_only=True, hold=True):
                located = paths.find_by_names(
                    session=request.session,
                    actor=request.actor,
                    context=request.context,
                    root_id=space.root_id,
                    names=names[1:],
                )
        except NotFound:
            return None  # hidden: the same answer as missing (``access`` audited the denial)
        except PolarisError as error:
            raise dav_error(error) from None
        if located is None:
            return None
        ref = "/" + "/".join(names)
        kind = Folder if located.is_folder else File
        return kind(path, environ, located, space, ref)

    def _find_shared(
        self, path: str, environ: dict[str, Any], request: DavRequest, names: list[str]
    ) -> Any:
        """Below ``Shared with me``: a shared node by its name there, then names below it."""
        if not names:
            return shared_root.SharedRoot(path, environ)
        shared = shared_root.shared_nodes(environ).get(names[0])
        if shared is None:
            return None
        if len(names) == 1:
            return shared_root.resource(path, environ, shared)
        try:
            with transaction(request.session, read_only=True, hold=True):
                located = paths.find_by_names(
                    session=request.session,
                    actor=request.actor,
                    context=request.context,
                    root_id=shared.node.id,
                    names=names[1:],
                )
        except NotFound:
            return None
        except PolarisError as error:
            raise dav_error(error) from None
        if located is None:
            return None
        return shared_root.resource(path, environ, located)
