"""What the drive keeps in the blob store, for storage verification and garbage collection.

The store knows no domain; these functions tell it which manifests and chunks the drive needs:
every version's (whether current, old or in the trash: versions are kept until retention purges
them) and the chunks of every resumable upload still recorded (an upload in progress). Keys are
``version:<id>`` and ``upload:<id>``; :func:`describe` turns them into what an operator needs to
find the file: the space, the path, the version.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from sqlalchemy.orm import Session

from polaris.drive import repo, stored_repo, uploads_repo
from polaris.storage.references import Reference
from polaris.storage.refs import ChunkRef, ContentRef

VERSION = "version:"
UPLOAD = "upload:"


def count(*, session: Session) -> int:
    return stored_repo.count_versions_and_uploads(session)


def references(*, session: Session) -> Iterator[Reference]:
    """Uploads first, then versions: completing an upload moves its chunks from the one to the
    other in one transaction, so a snapshot sees them in exactly one of the two."""
    for upload_id, chunks in uploads_repo.stream_upload_chunks(session):
        # JSON gives ``object``; ``int(str(...))`` keeps mypy strict without a cast.
        refs = tuple(ChunkRef(str(cid), int(str(size))) for cid, size in chunks or [])
        yield Reference(f"{UPLOAD}{upload_id}", refs)
    for version_id, manifest_id, content, size, sha256 in stored_repo.stream_version_content(
        session
    ):
        stored = ContentRef.from_dict(content)
        yield Reference(f"{VERSION}{version_id}", stored.chunks, manifest_id, size, sha256)


def describe(*, session: Session, keys: Collection[str]) -> dict[str, str]:
    """``space "PS Kotwali" (7): /FIR/report.pdf, version 2 (node 41)`` per version key, and the
    target of each upload key; keys of other sources are left out."""
    found: dict[str, str] = {}
    version_ids = [int(k.removeprefix(VERSION)) for k in keys if k.startswith(VERSION)]
    rows = stored_repo.versions_with_nodes(session, version_ids)
    names = stored_repo.node_names(session, (i for row in rows for i in repo.path_ids(row[3])))
    for version_id, number, node_id, path, space_id, space_name in rows:
        below_root = repo.path_ids(path)[1:]
        shown = "/" + "/".join(names.get(i, f"#{i}") for i in below_root)
        found[f"{VERSION}{version_id}"] = (
            f'space "{space_name}" ({space_id}): {shown}, version {number} (node {node_id})'
        )
    upload_ids = [k.removeprefix(UPLOAD) for k in keys if k.startswith(UPLOAD)]
    for upload in uploads_repo.uploads_by_id(session, upload_ids):
        target = (
            f"folder {upload.parent_id}" if upload.node_id is None else f"node {upload.node_id}"
        )
        found[f"{UPLOAD}{upload.id}"] = (
            f'upload in progress of "{upload.name}" into {target} by user {upload.user_id}'
        )
    return found
