"""A folder or a selection as one ZIP, streamed with constant memory.

Why the standard library's ``zipfile``: written to a sink that cannot seek, it writes each entry
with a data descriptor (flag bit 3) after the bytes, so nothing is buffered beyond the piece
being compressed; names that are not ASCII get the UTF-8 flag (bit 11) by itself, and ZIP64 is
used when an entry's announced size needs it. It ships with Python, so there is no dependency to
keep (``zipstream-ng`` does the same with more code of its own).

Two steps:

1. :func:`plan_zip`, in the request's read-only snapshot: authorise each top node (``READ``,
   through ``polaris.access``, a hidden one answers as a missing one) and list what is below it.
   Nodes above the caller's clearance, and everything under them, are left out of the plan:
   they do not exist for the caller, so the ZIP says nothing about them (no count, no note).
2. :func:`stream_zip`, while the response is sent: for each file, a unit of work of its own
   authorises the read again (``content.find_content``: the access decision and the scan hold),
   checks the stored content and commits its ``file.read`` record *before* the file's bytes
   leave (DESIGN §8). A file the scan holds (``scan_pending``) or has quarantined
   (``file_quarantined``), whose stored content cannot be read, or that went away meanwhile, is
   skipped; the held, quarantined and unreadable ones are listed with the reason in a note at
   the end of the ZIP. One that went away (or became hidden) is simply absent.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from polaris.access.policy import Action, Actor
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.drive import content, reads, repo
from polaris.drive._locate import require_node
from polaris.drive.models import FILE, Node
from polaris.errors import NotFound, PermissionDenied, PolarisError
from polaris.storage.store import BlobStore
from polaris.web.messages import N_
from polaris.web.times import DEFAULT_ZONE, zone

#: Why a file was left out, as the note in the ZIP says it (translated when the note is written).
REASONS = {
    "file_quarantined": N_("the malware scan found it infected (quarantined)"),
    "scan_pending": N_("the malware scan has not cleared it yet"),
    "unreadable": N_("its stored content could not be read"),
}
NOTE_TITLE = N_("Files left out of this ZIP")
NOTE_NAME = N_("NOT-INCLUDED.txt")
#: At most this many ids in one ``POST /zip``.
MAX_SELECTION = 1000


@dataclass(frozen=True)
class ZipEntry:
    """One entry: a folder (``node_id`` None: a directory entry) or a file to read when sent."""

    path: str
    node_id: int | None


@dataclass
class ZipPlan:
    """What a ZIP will hold, in order, and the name of the download."""

    name: str
    entries: list[ZipEntry] = field(default_factory=list)


def plan_zip(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_ids: Sequence[int],
    name: str | None = None,
) -> ZipPlan:
    """Authorise the top nodes and list what the ZIP holds (see the module's docstring).

    One top folder gives entries under its name, and the download is named after it; a
    selection gives its nodes side by side, a clash of names from different folders renamed
    "name (2)".
    """
    if not node_ids:
        raise NotFound("nothing to download")
    tops = [
        require_node(
            session=session, actor=actor, context=context, node_id=node_id, action=Action.READ
        )
        for node_id in dict.fromkeys(node_ids)
    ]
    clearance = int(actor.clearance)
    taken: set[str] = set()
    plan = ZipPlan(name=name or (tops[0].node.name if len(tops) == 1 else "polaris"))
    for top in tops:
        top_name = _unique(top.node.name, taken)
        nodes = [n for n in repo.subtree(session, top.node) if n.trashed_at is None]
        for node, path in _visible_paths(nodes, top.node.id, top_name, clearance):
            if node.kind == FILE:
                if node.current_version_id is not None:
                    plan.entries.append(ZipEntry(path, node.id))
            else:
                plan.entries.append(ZipEntry(path + "/", None))
    return plan


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or "name (2).ext" and so on when an earlier top entry has it."""
    candidate, number = name, 1
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = name, "", ""
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem} ({number}){dot}{ext}"
    taken.add(candidate.casefold())
    return candidate


def _visible_paths(
    nodes: list[Node], top_id: int, top_name: str, clearance: int
) -> Iterator[tuple[Node, str]]:
    """Nodes (parents first) within ``clearance`` whose every ancestor below the top is too, with
    their path in the ZIP."""
    paths: dict[int, str] = {}
    for node in nodes:
        if node.id == top_id:
            paths[node.id] = top_name
        elif node.classification > clearance or node.parent_id not in paths:
            continue
        else:
            paths[node.id] = f"{paths[node.parent_id]}/{node.name}"
        yield node, paths[node.id]


def _local(moment: dt.datetime) -> tuple[int, int, int, int, int, int]:
    """A ZIP's time has no zone: Indian Standard Time, as every page shows times."""
    local = moment.astimezone(zone(DEFAULT_ZONE))
    return (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)


class _Sink:
    """A write-only, unseekable file for ``zipfile``: it keeps what was written until taken."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self.written = 0

    def write(self, data: bytes) -> int:
        self._pieces.append(bytes(data))
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the pieces are taken by :meth:`take`."""

    def close(self) -> None:
        """Nothing to close: the response owns the stream."""

    def take(self) -> bytes:
        data = b"".join(self._pieces)
        self._pieces.clear()
        return data


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def stream_zip(
    plan: ZipPlan,
    *,
    sessions: sessionmaker[Session],
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    gettext: Callable[[str], str],
) -> Iterator[bytes]:
    """The ZIP's bytes, piece by piece (at most one stored chunk, compressed, in memory)."""
    sink = _Sink()
    skipped: list[Skipped] = []
    stamp = _local(utcnow())
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for entry in plan.entries:
            if entry.node_id is None:
                archive.writestr(zipfile.ZipInfo(entry.path, stamp), b"")
            else:
                yield from _write_file(
                    archive, sink, entry, sessions, actor, context, blobs, skipped
                )
            piece = sink.take()
            if piece:
                yield piece
        if skipped:
            lines = [gettext(NOTE_TITLE), ""]
            lines += [f"{item.path}: {gettext(REASONS[item.reason])}" for item in skipped]
            info = zipfile.ZipInfo(gettext(NOTE_NAME), stamp)
            archive.writestr(info, ("\n".join(lines) + "\n").encode())
    yield sink.take()


def _write_file(
    archive: zipfile.ZipFile,
    sink: _Sink,
    entry: ZipEntry,
    sessions: sessionmaker[Session],
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    skipped: list[Skipped],
) -> Iterator[bytes]:
    """One file: authorised, checked and audited in its own unit of work, then its bytes."""
    assert entry.node_id is not None
    try:
        with unit_of_work(sessions) as session:
            located, version = content.find_content(
                session=session, actor=actor, context=context, node_id=entry.node_id
            )
            checked = reads.check_read(
                session=session,
                context=context,
                blobs=blobs,
                sessions=sessions,
                located=located,
                version=version,
                byte_range=None,
            )
            try:
                checked.audit_in(session)
            except BaseException:
                checked.close()
                raise
            saved = version.created_at
            size = version.size
    except PermissionDenied as denied:
        if denied.code in REASONS:
            skipped.append(Skipped(entry.path, denied.code))
        return
    except NotFound:
        return  # gone or hidden since the plan: absent, as it would be from a listing
    except PolarisError:
        skipped.append(Skipped(entry.path, "unreadable"))
        return
    info = zipfile.ZipInfo(entry.path, _local(saved))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size  # lets zipfile choose ZIP64 for a large entry up front
    # A chunk that fails further on raises ``reads.StreamAborted`` (recorded there): the ZIP
    # cannot be mended once bytes left, so the server aborts the response and the client sees an
    # incomplete download rather than a ZIP that looks whole.
    with archive.open(info, "w") as target:
        for piece in checked.stream():
            target.write(piece)
            data = sink.take()
            if data:
                yield data
