"""Master keys: the master key file, keys from the environment, and the in-memory keyring.

A master key never encrypts content. It only wraps the data keys and the dedup key that are stored
in the blob store (see :mod:`polaris.storage.keystore`), so rotating it means rewrapping a few small
objects, never re-encrypting data. Its 8-byte id is derived from the key itself, so a key given as
base64 in the environment needs no separate id and a wrong key shows up by its id.

Master key file layout (all integers big-endian)::

    magic "PLRSKEYS" (8) | version u8 = 1 | count u8 (1..255) | current key id (8)
    | count x (key id (8) | key (32)) | SHA-256 of all preceding bytes (32)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from polaris.errors import PolarisError
from polaris.storage import _fsio

MASTER_KEY_SIZE = 32
KEY_ID_SIZE = 8
KEY_FILE_MAGIC = b"PLRSKEYS"
KEY_FILE_VERSION = 1
_KEY_FILE_HEAD = struct.Struct(">8sBB8s")
_KEY_ID_LABEL = b"polaris master key id v1"
_MAX_KEY_FILE_SIZE = 64 * 1024


class KeyFileError(PolarisError):
    """The master key file or a master key given in the environment is unusable."""

    code = "key_file_error"
    status = 500


@dataclass(frozen=True, repr=False)
class MasterKey:
    key_id: bytes
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != MASTER_KEY_SIZE:
            raise KeyFileError(f"a master key is {MASTER_KEY_SIZE} bytes, got {len(self.secret)}")
        if not hmac.compare_digest(self.key_id, derive_key_id(self.secret)):
            raise KeyFileError(f"master key {self.key_id.hex()}: id does not match the key")

    @classmethod
    def from_secret(cls, secret: bytes) -> MasterKey:
        if len(secret) != MASTER_KEY_SIZE:
            raise KeyFileError(f"a master key is {MASTER_KEY_SIZE} bytes, got {len(secret)}")
        return cls(key_id=derive_key_id(secret), secret=bytes(secret))

    @classmethod
    def generate(cls) -> MasterKey:
        return cls.from_secret(os.urandom(MASTER_KEY_SIZE))

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id_hex})"


def derive_key_id(secret: bytes) -> bytes:
    """HMAC-SHA256(key, label)[:8]: identifies the key without revealing anything about it."""
    return hmac.new(secret, _KEY_ID_LABEL, hashlib.sha256).digest()[:KEY_ID_SIZE]


class Keyring:
    """The master keys this process holds; exactly one is current (it wraps anything new)."""

    def __init__(self, keys: Iterable[MasterKey], current_id: bytes | None = None) -> None:
        self._keys: dict[bytes, MasterKey] = {}
        for key in keys:
            self._keys.setdefault(key.key_id, key)
        if not self._keys:
            raise KeyFileError("a keyring needs at least one master key")
        if len(self._keys) > 255:
            raise KeyFileError("at most 255 master keys")
        self._current = next(iter(self._keys)) if current_id is None else current_id
        if self._current not in self._keys:
            raise KeyFileError(f"current master key {self._current.hex()} is not in the keyring")

    @classmethod
    def from_secret(cls, secret: bytes) -> Keyring:
        """A keyring of one key (e.g. decoded from ``POLARIS_MASTER_KEY``)."""
        return cls([MasterKey.from_secret(secret)])

    @classmethod
    def from_base64(cls, text: str) -> Keyring:
        """One or more base64 keys separated by commas or whitespace; the first is current."""
        parts = text.replace(",", " ").split()
        return cls([MasterKey.from_secret(master_key_from_base64(part)) for part in parts])

    @property
    def current(self) -> MasterKey:
        return self._keys[self._current]

    @property
    def keys(self) -> tuple[MasterKey, ...]:
        """All keys, the current one first."""
        return (self.current, *(k for k in self._keys.values() if k.key_id != self._current))

    @property
    def ids_hex(self) -> list[str]:
        return [key.key_id_hex for key in self.keys]

    def get(self, key_id: bytes) -> MasterKey | None:
        return self._keys.get(key_id)

    def with_key(self, key: MasterKey, *, make_current: bool) -> Keyring:
        current = key.key_id if make_current else self._current
        return Keyring([*self._keys.values(), key], current)

    def without(self, key_id: bytes) -> Keyring:
        if key_id == self._current:
            raise KeyFileError(f"master key {key_id.hex()} is current and cannot be removed")
        return Keyring([k for k in self._keys.values() if k.key_id != key_id], self._current)

    def __repr__(self) -> str:
        return f"Keyring(current={self.current.key_id_hex}, keys={self.ids_hex})"


def master_key_from_base64(text: str) -> bytes:
    """Decode a master key given as base64 text (standard or URL-safe alphabet)."""
    cleaned = text.strip()
    try:
        secret = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError("the master key is not valid base64") from None
    if len(secret) != MASTER_KEY_SIZE:
        raise KeyFileError(
            f"the master key must decode to {MASTER_KEY_SIZE} bytes, not {len(secret)}"
        )
    return secret


def master_key_to_base64(key: MasterKey) -> str:
    return base64.b64encode(key.secret).decode("ascii")


def encode_key_file(keyring: Keyring) -> bytes:
    keys = keyring.keys
    body = _KEY_FILE_HEAD.pack(KEY_FILE_MAGIC, KEY_FILE_VERSION, len(keys), keyring.current.key_id)
    body += b"".join(key.key_id + key.secret for key in keys)
    return body + hashlib.sha256(body).digest()


def decode_key_file(data: bytes, source: str = "master key file") -> Keyring:
    if len(data) < _KEY_FILE_HEAD.size + 32:
        raise KeyFileError(f"{source}: truncated ({len(data)} bytes)")
    body, checksum = data[:-32], data[-32:]
    magic, version, count, current_id = _KEY_FILE_HEAD.unpack_from(body)
    if magic != KEY_FILE_MAGIC:
        raise KeyFileError(f"{source}: not a Polaris master key file (bad magic)")
    if version != KEY_FILE_VERSION:
        raise KeyFileError(f"{source}: unsupported version {version} (this reader knows 1)")
    entry = KEY_ID_SIZE + MASTER_KEY_SIZE
    if count == 0 or len(body) != _KEY_FILE_HEAD.size + count * entry:
        raise KeyFileError(f"{source}: truncated or wrong length for {count} keys")
    if not hmac.compare_digest(hashlib.sha256(body).digest(), checksum):
        raise KeyFileError(f"{source}: checksum mismatch (the file is damaged)")
    keys: list[MasterKey] = []
    for index in range(count):
        offset = _KEY_FILE_HEAD.size + index * entry
        key_id, secret = (
            body[offset : offset + KEY_ID_SIZE],
            body[offset + KEY_ID_SIZE : offset + entry],
        )
        keys.append(MasterKey(key_id=key_id, secret=secret))
    return Keyring(keys, current_id)


def create_master_key_file(path: Path | str) -> Keyring:
    """Create a new key file (mode 0600) holding one fresh master key; refuse if it exists."""
    path = Path(path)
    keyring = Keyring([MasterKey.generate()])
    what = f"creating master key file {path}"
    if not _fsio.write_new_file(path, encode_key_file(keyring), tmp_dir=path.parent, what=what):
        raise KeyFileError(f"{path} already exists; refusing to replace a master key file")
    return keyring


def save_master_key_file(path: Path | str, keyring: Keyring) -> None:
    """Atomically replace the key file (mode 0600) with ``keyring``."""
    path = Path(path)
    _fsio.replace_file(path, encode_key_file(keyring), what=f"writing master key file {path}")


def load_master_key_file(path: Path | str) -> Keyring:
    """Read the key file; refuse one that group or others may read or write."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileError(f"master key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"master key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"master key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"master key file {path} has mode {mode:04o}: group or others may access it; "
                f"refusing to use it (run: chmod 600 {path})"
            )
        data = handle.read(_MAX_KEY_FILE_SIZE + 1)
    return decode_key_file(data, f"master key file {path}")
