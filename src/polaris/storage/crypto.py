"""Sealing and opening objects: AES-256-GCM with a binary header, and the HMAC ids.

Every encrypted object (chunk, manifest, wrapped key, placement record) has the same shape::

    magic "PLRS" | version u8 | kind u8 | key id (8) | nonce (12) | ciphertext | tag (16)

The associated data is the 26-byte header followed by the object's id (ASCII), so a byte changed
anywhere, a chunk moved under another id, or an object of one kind presented as another, all fail
authentication. Layouts and reasons are in docs/storage-format.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"PLRS"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER = struct.Struct(">4sBB8s12s")
OVERHEAD = HEADER.size + TAG_SIZE
MANIFEST_ID_PREFIX = b"polaris-manifest\x00"
PLACEMENT_KEY_PREFIX = b"polaris-placement\x00"

#: Plaintext may come as any contiguous bytes (a writer hands over its chunk buffer uncopied).
Plaintext = bytes | bytearray | memoryview


class Kind(IntEnum):
    CHUNK = 1
    MANIFEST = 2
    DATA_KEY = 3
    DEDUP_KEY = 4
    PLACEMENT = 5


class SealError(Exception):
    """Why a sealed object cannot be opened; the caller adds which object it was."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Header:
    version: int
    kind: Kind
    key_id: bytes
    nonce: bytes


def seal(*, kind: Kind, key_id: bytes, key: bytes, object_id: str, plaintext: Plaintext) -> bytes:
    """Encrypt ``plaintext`` with a fresh random nonce, bound to ``kind`` and ``object_id``."""
    if len(key_id) != 8 or len(key) != KEY_SIZE:
        raise ValueError("key id must be 8 bytes and key 32 bytes")
    header = HEADER.pack(MAGIC, FORMAT_VERSION, kind, key_id, os.urandom(NONCE_SIZE))
    ciphertext = AESGCM(key).encrypt(header[-NONCE_SIZE:], plaintext, _aad(header, object_id))
    return header + ciphertext


def parse_header(blob: bytes, *, kind: Kind, expected_plaintext_size: int | None = None) -> Header:
    """Check everything that can be checked before decrypting; SealError says what is wrong."""
    if expected_plaintext_size is not None and len(blob) != expected_plaintext_size + OVERHEAD:
        expected = expected_plaintext_size + OVERHEAD
        if len(blob) < expected:
            raise SealError(f"truncated: {len(blob)} of {expected} bytes")
        raise SealError(f"wrong size: {len(blob)} bytes, expected {expected}")
    if len(blob) < OVERHEAD:
        raise SealError(f"truncated: {len(blob)} bytes, shorter than the {OVERHEAD}-byte minimum")
    magic, version, found_kind, key_id, nonce = HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise SealError("not a Polaris object (bad magic)")
    if version not in SUPPORTED_VERSIONS:
        raise SealError(f"unsupported format version {version} (this reader knows 1)")
    if found_kind != kind:
        raise SealError(f"wrong kind {found_kind} (expected {kind.value}, {kind.name.lower()})")
    return Header(version=version, kind=Kind(found_kind), key_id=key_id, nonce=nonce)


def open_sealed(blob: bytes, *, key: bytes, object_id: str) -> bytes:
    """Authenticate and decrypt a blob whose header :func:`parse_header` accepted."""
    header = blob[: HEADER.size]
    try:
        # A view, not a slice: the ciphertext (up to 4 MiB) is not copied before decrypting.
        return AESGCM(key).decrypt(
            header[-NONCE_SIZE:], memoryview(blob)[HEADER.size :], _aad(header, object_id)
        )
    except InvalidTag:
        raise SealError("authentication failed (damaged, or not the object of this id)") from None


def chunk_id(dedup_key: bytes, plaintext: Plaintext) -> str:
    """HMAC-SHA256(dedup key, plaintext), hex: equal content, equal id; opaque without the key."""
    return hmac.new(dedup_key, plaintext, hashlib.sha256).hexdigest()


def manifest_id(dedup_key: bytes, plaintext: bytes) -> str:
    """Like :func:`chunk_id`, domain-separated so a manifest id never equals a chunk id."""
    return hmac.new(dedup_key, MANIFEST_ID_PREFIX + plaintext, hashlib.sha256).hexdigest()


def placement_node_key(dedup_key: bytes, node_id: int) -> str:
    """The opaque key a node's placement records are filed under (docs/storage-format.md §8a):
    HMAC-SHA256(dedup key, prefix ‖ node id in decimal ASCII), so the store's listing does not
    show which node was renamed how often."""
    if isinstance(node_id, bool) or not isinstance(node_id, int) or node_id < 1:
        raise ValueError(f"a placement's node id must be a positive integer, not {node_id!r}")
    message = PLACEMENT_KEY_PREFIX + str(node_id).encode("ascii")
    return hmac.new(dedup_key, message, hashlib.sha256).hexdigest()


def id_matches(expected_id: str, actual_id: str) -> bool:
    return hmac.compare_digest(expected_id.encode("ascii"), actual_id.encode("ascii"))


def _aad(header: bytes, object_id: str) -> bytes:
    return header + object_id.encode("ascii")
