"""TOTP second factor (RFC 6238, 30 s steps, each code usable once) and one-time recovery codes.

The TOTP secret is sealed at rest with AES-256-GCM under a key derived from the instance's master
key; the user id is the associated data, so a secret copied to another account does not open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time

import pyotp
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOTP_PERIOD_SECONDS = 30
TOTP_DIGITS = 6
# Accept the previous and the next step too: office PC clocks drift.
TOTP_VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_NONCE_BYTES = 12


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, *, username: str, issuer: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer))


def current_code(secret: str, *, at: float | None = None) -> str:
    """The code an authenticator app would show at ``at`` (used by tests and the demo)."""
    return str(pyotp.TOTP(secret).at(at if at is not None else time.time()))


def match_step(secret: str, code: str, *, last_used_step: int | None, at: float) -> int | None:
    """The time step ``code`` belongs to, or None if it is wrong or that step was already used.

    Refusing any step at or before the last one used makes every code usable once, even within
    its 30 s window, and stops replay of an older code in the drift window.
    """
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(at // TOTP_PERIOD_SECONDS)
    for step in range(now_step - TOTP_VALID_WINDOW, now_step + TOTP_VALID_WINDOW + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(str(totp.at(step * TOTP_PERIOD_SECONDS)), code):
            return step
    return None


def seal_secret(key: bytes, secret: str, *, user_id: int) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, secret.encode(), _aad(user_id))


def open_secret(key: bytes, sealed: bytes, *, user_id: int) -> str:
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    return AESGCM(key).decrypt(nonce, ciphertext, _aad(user_id)).decode()


def _aad(user_id: int) -> bytes:
    return f"polaris-mfa-secret-v1:{user_id}".encode()


def new_recovery_codes() -> list[str]:
    """Ten codes of 16 characters (about 78 bits each), shown to the user once."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def hash_recovery_code(code: str) -> str:
    """SHA-256 suffices: the codes are random with ~78 bits, not chosen by people."""
    canonical = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(canonical.encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    return len(code.strip().replace("-", "").replace(" ", "")) == 16
