"""The Ed25519 key that signs audit checkpoints: create, load, identify, export.

Every node of a cluster signs with the same key (``polaris.node`` refuses a node whose key is not
the one the database's checkpoints are signed with); it comes from the key file or, as one line of
base64, from ``POLARIS_AUDIT_KEY``.

The private key lives in a PEM (PKCS#8) file readable by its owner only: a file that its group or
others may access is refused, as a leaked key would let an intruder re-sign a rewritten log. The
public key is exported (PEM) and kept elsewhere (an auditor, the SIEM) for ``verify``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE_MODE = 0o600
KEY_ID_HEX_CHARS = 16
#: An Ed25519 private key's raw bytes (the form ``POLARIS_AUDIT_KEY`` takes, base64-encoded).
RAW_KEY_SIZE = 32


class AuditKeyError(Exception):
    """The key file is missing, unreadable, of the wrong kind or too widely readable."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short id of a public key: the first 16 hex chars of SHA-256 of its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX_CHARS]


@dataclass(frozen=True)
class AuditSigner:
    """Signs checkpoints; ``key_id`` names the key in each checkpoint it signs."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> AuditSigner:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def create_key_file(path: Path) -> AuditSigner:
    """Generate a key and write it to a new file with mode 0600 (never overwrites)."""
    signer = AuditSigner.generate()
    pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    except FileExistsError as exc:
        raise AuditKeyError(f"{path} exists; refusing to overwrite an audit key") from exc
    try:
        os.fchmod(fd, KEY_FILE_MODE)
        view = memoryview(pem)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    _fsync_directory(path.parent)
    return signer


def load_key_file(path: Path) -> AuditSigner:
    """Load the signing key; refuses a file that group or others may read, write or execute."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise AuditKeyError(f"cannot open audit key file {path}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AuditKeyError(f"audit key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise AuditKeyError(
                f"audit key file {path} has mode {stat.S_IMODE(info.st_mode):04o}; "
                f"it must be readable by its owner only (run: chmod 600 {path})"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read()
    finally:
        os.close(fd)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(f"audit key file {path} does not hold a usable private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"audit key file {path} does not hold an Ed25519 key")
    return AuditSigner(key)


def signer_from_text(text: str) -> AuditSigner:
    """The key given in the environment (``POLARIS_AUDIT_KEY``): base64 of the 32 private bytes
    of an Ed25519 key (any 32 random bytes are one), or the PEM text of the key file.

    One line of base64 travels through secret managers and ``EnvironmentFile=`` where a PEM
    block's line breaks do not; the PEM form lets an operator pass the key file's contents as is.
    """
    cleaned = text.strip()
    if cleaned.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(cleaned.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            raise AuditKeyError("POLARIS_AUDIT_KEY does not hold a usable private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError("POLARIS_AUDIT_KEY does not hold an Ed25519 key")
        return AuditSigner(key)
    try:
        raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise AuditKeyError("POLARIS_AUDIT_KEY is neither base64 nor a PEM key") from None
    if len(raw) != RAW_KEY_SIZE:
        raise AuditKeyError(
            f"POLARIS_AUDIT_KEY must decode to {RAW_KEY_SIZE} bytes, not {len(raw)}"
        )
    return AuditSigner(Ed25519PrivateKey.from_private_bytes(raw))


def export_public_key(key: AuditSigner | Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo) text, for auditors and ``verify``."""
    public = key.public_key if isinstance(key, AuditSigner) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise AuditKeyError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError("not an Ed25519 public key")
    return key


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
