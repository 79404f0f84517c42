"""The target of a WebDAV PUT (or LOCK) to a name not in use in a folder: a file once its body
is recorded, made with it (one version, not an empty one first)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVNonCollection

from polaris.dav.content import ContentReader, Upload, declared_length
from polaris.dav.context import of as request_of
from polaris.dav.refs import HREF_SAFE, join
from polaris.drive import stamps
from polaris.drive.content import guess_content_type
from polaris.drive.paths import Located

if TYPE_CHECKING:
    from polaris.dav.resources import Folder


class NewFile(DAVNonCollection):  # type: ignore[misc]
    """The target of a PUT to a name not in use: a file once its body is recorded."""

    def __init__(self, path: str, environ: dict[str, Any], parent: Folder, name: str) -> None:
        super().__init__(path, environ)
        self.parent = parent
        self.name = name
        self.located: Located | None = None
        self._upload: Upload | None = None

    def get_content_length(self) -> int:
        return 0 if self.located is None else self.located.node.size

    def get_content_type(self) -> str:
        return guess_content_type(self.name)

    def get_content(self) -> ContentReader:
        if self.located is None:
            raise DAVError(404)
        return ContentReader(request_of(self.environ), self.located.node.id)

    def get_etag(self) -> str | None:
        if self.located is None:
            return None
        return stamps.etag_seen(self.located.node, request_of(self.environ).actor.clearance)

    def support_etag(self) -> bool:
        return True

    def get_ref_url(self) -> str:
        return quote(join(self.parent.ref, self.name), safe=HREF_SAFE)

    def begin_write(self, *, content_type: str | None = None, empty: bool = False) -> Upload:
        self._upload = Upload(
            request_of(self.environ),
            0 if empty else declared_length(self.environ),
            environ=None if empty else self.environ,
            parent_id=self.parent.node_id,
            name=self.name,
        )
        return self._upload

    def end_write(self, *, with_errors: bool, upload: Upload | None = None) -> None:
        upload = upload or self._upload
        if upload is None:
            return  # begin_write refused the upload
        if with_errors:
            upload.abort()
            return
        self.located = upload.finish()
