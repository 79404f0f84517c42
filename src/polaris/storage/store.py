"""The blob store facade: content in, references out, every byte authenticated on the way back.

Thread-safe for concurrent reads and writes; several processes may share one backend (writes of the
same chunk race harmlessly: the backend never overwrites, and either copy is correct). The chunks
of one large stream are sealed or opened several at a time (``polaris.storage.pipeline``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from polaris.errors import IntegrityError
from polaris.storage import names
from polaris.storage.backend import Backend, ObjectNotFound, ObjectTooLargeError
from polaris.storage.chunker import Source, iter_chunks
from polaris.storage.crypto import (
    OVERHEAD,
    Kind,
    SealError,
    chunk_id,
    id_matches,
    manifest_id,
    open_sealed,
    parse_header,
    placement_node_key,
    seal,
)
from polaris.storage.keys import Keyring, MasterKey
from polaris.storage.keystore import KeyStore
from polaris.storage.manifest import (
    MAX_MANIFEST_SIZE,
    FileMetadata,
    Manifest,
    decode_manifest,
    encode_manifest,
)
from polaris.storage.pipeline import OrderedWindow
from polaris.storage.placement import (
    MAX_PLACEMENT_SIZE,
    Placement,
    decode_placement,
    encode_placement,
)
from polaris.storage.references import ReferenceSource
from polaris.storage.refs import MAX_CHUNK_SIZE, ChunkRef, ContentRef
from polaris.storage.verify import ProgressCallback, VerifyReport, verify_store
from polaris.storage.writer import ContentWriter, Piece

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

DEFAULT_CHUNK_SIZE = MAX_CHUNK_SIZE


class BlobStore:
    """Encrypted, deduplicating, content-addressed storage (docs/storage-format.md).

    Make one with :meth:`initialise` (a new store) or :meth:`open` (an existing one).
    """

    def __init__(self, backend: Backend, keys: KeyStore, *, chunk_size: int) -> None:
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE} bytes")
        self.backend = backend
        self.keys = keys
        self.chunk_size = chunk_size

    @classmethod
    def initialise(
        cls, backend: Backend, keyring: Keyring, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> BlobStore:
        """Create the keys of a new store; Conflict if the backend already holds one."""
        return cls(backend, KeyStore.initialise(backend, keyring), chunk_size=chunk_size)

    @classmethod
    def open(
        cls, backend: Backend, keyring: Keyring, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> BlobStore:
        """Open an existing store: NotFound if none, IntegrityError for a wrong master key."""
        return cls(backend, KeyStore(backend, keyring), chunk_size=chunk_size)

    @property
    def keyring(self) -> Keyring:
        return self.keys.keyring

    # Writing

    def put_stream(self, source: Source) -> ContentRef:
        """Store content from a binary file object or an iterable of bytes, a few chunks in
        memory (a :class:`ContentWriter`'s window).

        Chunks are durable when this returns. The caller then writes the manifest (and only after
        it, the database row): a failure in between leaves unreferenced chunks, never a dangling
        reference.
        """
        writer = ContentWriter(self)
        try:
            for plaintext in iter_chunks(source, self.chunk_size):
                writer.write(plaintext)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    def put_bytes(self, data: bytes) -> ContentRef:
        return self.put_stream(data)

    def put_chunk(self, plaintext: Piece) -> ChunkRef:
        """Store one chunk (1 byte to ``MAX_CHUNK_SIZE``) unless present; durable on return.

        Thread-safe: a :class:`ContentWriter` stores several chunks at once from its pool.
        """
        cid = chunk_id(self.keys.dedup_key, plaintext)
        name = names.chunk_name(cid)
        # A chunk already stored is reused, and the reuse recorded (its time refreshed), so that
        # garbage collection keeps it through its grace period (docs/storage-format.md §15).
        if not self.backend.touch(name):
            self.backend.put(name, self._seal(Kind.CHUNK, cid, plaintext))
        return ChunkRef(cid, len(plaintext))

    def _seal(self, kind: Kind, object_id: str, plaintext: Piece) -> bytes:
        data_key_id = self.keys.current_data_key_id
        key = self.keys.data_key(data_key_id)
        return seal(
            kind=kind,
            key_id=data_key_id.to_bytes(8, "big"),
            key=key,
            object_id=object_id,
            plaintext=plaintext,
        )

    # Reading

    def open_stream(self, content: ContentRef) -> Iterator[bytes]:
        """The plaintext, chunk by chunk; each chunk is authenticated before it is yielded."""
        return self._iter_range(content, 0, content.size)

    def read_range(self, content: ContentRef, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of the content, fetching only the chunks that overlap the range.

        ValueError (at the call, not at the first ``next``) unless 0 <= start <= end <= size.
        """
        if not 0 <= start <= end <= content.size:
            raise ValueError(f"invalid range [{start}, {end}) for content of {content.size} bytes")
        return self._iter_range(content, start, end)

    def _iter_range(self, content: ContentRef, start: int, end: int) -> Iterator[bytes]:
        """Read and open the next chunks in the shared pool while the caller sends this one
        (``polaris.storage.pipeline``): at most ``WINDOW`` chunks are read ahead, so memory is
        bounded by the window, not the file. A single chunk is read on the caller's thread.
        """
        if start == end:
            return
        wanted: list[tuple[ChunkRef, int, int]] = []
        offset = 0
        for chunk in content.chunks:
            chunk_end = offset + chunk.size
            if offset >= end:
                break
            if chunk_end > start:
                wanted.append((chunk, max(start - offset, 0), min(end, chunk_end) - offset))
            offset = chunk_end
        if not wanted:
            return
        if len(wanted) == 1:
            chunk, first, last = wanted[0]
            plaintext = self.read_chunk(chunk.chunk_id, expected_size=chunk.size)
            yield plaintext if (first, last) == (0, chunk.size) else plaintext[first:last]
            return
        window: OrderedWindow[bytes] = OrderedWindow(results_hold_weight=True)
        submitted = 0
        try:
            for chunk, first, last in wanted:
                while submitted < len(wanted) and not window.full:
                    ahead = wanted[submitted][0]
                    window.submit(
                        ahead.size,
                        functools.partial(
                            self.read_chunk, ahead.chunk_id, expected_size=ahead.size
                        ),
                    )
                    submitted += 1
                plaintext = window.take_oldest()
                yield plaintext if (first, last) == (0, chunk.size) else plaintext[first:last]
        finally:
            window.cancel()

    def writer(self, *, limit: int | None = None, digest: Hash | None = None) -> ContentWriter:
        """A :class:`ContentWriter`, for content pushed in pieces (``polaris.storage.writer``)."""
        return ContentWriter(self, limit=limit, digest=digest)

    def read_bytes(self, content: ContentRef) -> bytes:
        """The whole content in memory: only for content known to be small."""
        return b"".join(self.open_stream(content))

    def read_chunk(self, cid: str, *, expected_size: int | None = None) -> bytes:
        """One authenticated chunk; IntegrityError "chunk <id>: <what is wrong>" otherwise.

        Authenticated means AES-GCM under the chunk's id and the size the caller expects; the
        plaintext's HMAC is not recomputed here but by ``storage verify``
        (docs/storage-format.md §11 says why that is safe).
        """
        try:
            return self.open_chunk(cid, expected_size=expected_size, check_id=False)
        except SealError as exc:
            raise IntegrityError(f"chunk {cid}: {exc.reason}", chunk_id=cid) from None

    def open_chunk(
        self, cid: str, *, expected_size: int | None = None, check_id: bool = True
    ) -> bytes:
        """Like :meth:`read_chunk` but raising SealError (the bare reason), and by default also
        recomputing the plaintext's HMAC against the id, for :mod:`verify`."""
        blob = self._get(names.chunk_name(cid), MAX_CHUNK_SIZE + OVERHEAD)
        plaintext = self._open(Kind.CHUNK, cid, blob, expected_size)
        if check_id and not id_matches(cid, chunk_id(self.keys.dedup_key, plaintext)):
            raise SealError("content does not match its id (HMAC mismatch)")
        return plaintext

    # Manifests

    def write_manifest(self, content: ContentRef, metadata: FileMetadata) -> str:
        """Store the manifest of a file version and return its id (idempotent for equal input).

        Precondition: ``content`` came from :meth:`put_stream` on this store (chunks durable).
        """
        plaintext = encode_manifest(content, metadata)
        mid = manifest_id(self.keys.dedup_key, plaintext)
        name = names.manifest_name(mid)
        if not self.backend.touch(name):
            self.backend.put(name, self._seal(Kind.MANIFEST, mid, plaintext))
        return mid

    def read_manifest(self, mid: str) -> Manifest:
        """An authenticated manifest; IntegrityError "manifest <id>: ..." otherwise."""
        try:
            return self.open_manifest(mid)
        except SealError as exc:
            raise IntegrityError(f"manifest {mid}: {exc.reason}", manifest_id=mid) from None

    def open_manifest(self, mid: str) -> Manifest:
        blob = self._get(names.manifest_name(mid), MAX_MANIFEST_SIZE + OVERHEAD)
        plaintext = self._open(Kind.MANIFEST, mid, blob, None)
        if not id_matches(mid, manifest_id(self.keys.dedup_key, plaintext)):
            raise SealError("content does not match its id (HMAC mismatch)")
        return decode_manifest(mid, plaintext)

    def iter_manifest_ids(self) -> Iterator[str]:
        for name in self.backend.list(names.MANIFESTS):
            mid = names.parse_manifest_name(name)
            if mid is not None:
                yield mid

    def iter_manifests(
        self, *, on_error: Callable[[str, IntegrityError], None] | None = None
    ) -> Iterator[Manifest]:
        """Every manifest (for recovery without the database).

        A damaged manifest raises IntegrityError, or, with ``on_error``, is reported and skipped.
        """
        for mid in self.iter_manifest_ids():
            try:
                yield self.read_manifest(mid)
            except IntegrityError as exc:
                if on_error is None:
                    raise
                on_error(mid, exc)

    # Placement records (docs/storage-format.md §8a)

    def write_placement(self, placement: Placement) -> str | None:
        """Store a node's placement record, unless the node's newest readable record says the
        same or is of a later generation; the name written, or None when nothing was.

        Idempotent, so a change-stream batch handed over again writes nothing new. Two records
        of one generation and microsecond cannot share a name: the time is moved on by 1 µs.
        """
        key = self.placement_key(placement.node_id)
        latest = self.latest_placement(placement.node_id)
        if latest is not None and (
            latest.generation > placement.generation or latest.same_place(placement)
        ):
            return None
        for _ in range(8):
            generation, recorded = placement.generation, placement.recorded_us
            name = names.placement_name(key, generation, recorded)
            object_id = names.placement_object_id(key, generation, recorded)
            blob = self._seal(Kind.PLACEMENT, object_id, encode_placement(placement))
            if self.backend.put(name, blob):
                return name
            later = placement.recorded_at + dt.timedelta(microseconds=1)
            placement = dataclasses.replace(placement, recorded_at=later)
        raise IntegrityError(f"{name}: eight placement records of one microsecond already exist")

    def placement_key(self, node_id: int) -> str:
        return placement_node_key(self.keys.dedup_key, node_id)

    def placement_names(self, node_id: int) -> list[str]:
        """The names of a node's records, oldest first."""
        key = self.placement_key(node_id)
        return sorted(self.backend.list(f"{names.PLACEMENTS}{key[:2]}/{key}/"))

    def latest_placement(self, node_id: int) -> Placement | None:
        """The node's newest record that can be read (a damaged newer one is passed over)."""
        for name in reversed(self.placement_names(node_id)):
            try:
                return self.open_placement(name)
            except SealError:
                continue
        return None

    def open_placement(self, name: str) -> Placement:
        """An authenticated placement record; SealError saying what is wrong otherwise."""
        parsed = names.parse_placement_name(name)
        if parsed is None:
            raise SealError("not a placement record's name")
        key, generation, recorded = parsed
        blob = self._get(name, MAX_PLACEMENT_SIZE + OVERHEAD)
        object_id = names.placement_object_id(key, generation, recorded)
        placement = decode_placement(self._open(Kind.PLACEMENT, object_id, blob, None))
        if not id_matches(key, self.placement_key(placement.node_id)):
            raise SealError(f"names node {placement.node_id}, not the node its name is for")
        if (placement.generation, placement.recorded_us) != (generation, recorded):
            raise SealError("generation or time differs from its name")
        return placement

    def iter_latest_placements(
        self, *, on_error: Callable[[str, IntegrityError], None] | None = None
    ) -> Iterator[Placement]:
        """The newest readable record of every node (for recovery without the database).

        A record that cannot be read raises IntegrityError or, with ``on_error``, is reported and
        the node's next older record is tried.
        """
        # A node's records sit under one prefix, so the listing (in name order) gives them
        # together: one group in memory at a time, whatever the store's size.
        group: list[str] = []
        current = None
        for name in self.backend.list(names.PLACEMENTS):
            parsed = names.parse_placement_name(name)
            if parsed is None:
                continue
            if parsed[0] != current and group:
                found = self._newest_of(group, on_error)
                if found is not None:
                    yield found
                group = []
            current = parsed[0]
            group.append(name)
        if group:
            found = self._newest_of(group, on_error)
            if found is not None:
                yield found

    def _newest_of(
        self, group: list[str], on_error: Callable[[str, IntegrityError], None] | None
    ) -> Placement | None:
        for name in sorted(group, reverse=True):
            try:
                return self.open_placement(name)
            except SealError as exc:
                error = IntegrityError(f"{name}: {exc.reason}")
                if on_error is None:
                    raise error from None
                on_error(name, error)
        return None

    # Keys

    def rotate_data_key(self) -> int:
        """Seal new chunks and manifests under a fresh data key; returns its id."""
        return self.keys.rotate_data_key()

    def add_master_key(self, key: MasterKey) -> int:
        """Wrap every data key and the dedup key under ``key`` and make it current.

        Returns the number of wrappings written. Persist ``key`` first (as
        :func:`polaris.storage.rotation.rotate_master_key` does): once it is current, new data keys
        are wrapped under it alone.
        """
        return self.keys.rewrap(self.keyring.with_key(key, make_current=True))

    def rewrap_keys(self) -> int:
        """Make sure every key is wrapped under the keyring's current master key."""
        return self.keys.rewrap(self.keyring)

    # Verification

    def verify(
        self,
        progress: ProgressCallback | None = None,
        *,
        references: ReferenceSource | None = None,
        scratch_dir: Path | None = None,
    ) -> VerifyReport:
        """Re-read and authenticate every object and, given ``references``, cross-check them
        (:func:`polaris.storage.verify.verify_store`)."""
        return verify_store(self, progress, references=references, scratch_dir=scratch_dir)

    # Internals

    def _get(self, name: str, max_size: int) -> bytes:
        try:
            return self.backend.get(name, max_size=max_size)
        except ObjectNotFound:
            raise SealError("missing") from None
        except ObjectTooLargeError as exc:
            raise SealError(f"too large ({exc.size} bytes)") from None

    def _open(self, kind: Kind, object_id: str, blob: bytes, expected_size: int | None) -> bytes:
        header = parse_header(blob, kind=kind, expected_plaintext_size=expected_size)
        key = self.keys.data_key(int.from_bytes(header.key_id, "big"))
        return open_sealed(blob, key=key, object_id=object_id)


#: The key under which an instance's sessions carry its blob store (``Session.info``), for code
#: that gets only a session and must read content: a change-stream consumer (the ransomware
#: guard samples versions' bytes). Set by ``polaris.instance.Instance``.
SESSION_INFO_KEY = "polaris.blobs"


def blobs_of(info: dict[str, object]) -> BlobStore | None:
    """The blob store a session's ``info`` carries (None for a session made without one)."""
    found = info.get(SESSION_INFO_KEY)
    return found if isinstance(found, BlobStore) else None
