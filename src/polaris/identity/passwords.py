"""Password hashing (argon2id) and the password policy of DESIGN §8.

Parameters are read back from each stored hash, so a hash made with weaker settings still verifies
and is upgraded at the next successful sign-in (``needs_rehash``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from polaris.errors import ValidationFailed

MIN_LENGTH = 8
MAX_LENGTH = 128


@dataclass(frozen=True)
class Argon2Parameters:
    memory_kib: int = 47104
    time_cost: int = 1
    parallelism: int = 1


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    needs_rehash: bool = False


class Passwords:
    """Hashes and verifies passwords with one set of argon2id parameters."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        self._hasher = PasswordHasher(
            memory_cost=parameters.memory_kib,
            time_cost=parameters.time_cost,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )
        # Verifying against this when the account is unknown costs the same time as a real check.
        self._dummy_hash = self._hasher.hash("polaris-timing-equaliser")

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalise(password))

    def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        """Check ``password``; with no stored hash, spend the same time and fail."""
        target = stored_hash or self._dummy_hash
        try:
            self._hasher.verify(target, normalise(password))
        except (VerificationError, InvalidHashError):
            return VerifyResult(ok=False)
        if stored_hash is None:
            return VerifyResult(ok=False)
        return VerifyResult(ok=True, needs_rehash=self._hasher.check_needs_rehash(stored_hash))


def normalise(password: str) -> str:
    """NFC, so a password typed on another keyboard layout (NFD Devanagari) still matches."""
    return unicodedata.normalize("NFC", password)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_policy(password: str, *, username: str | None = None) -> None:
    """Raise ``ValidationFailed`` with a stable code when ``password`` breaks the policy.

    DESIGN §8: 8–128 characters, no composition rules, no forced rotation, refuse common passwords
    (zxcvbn's ranked list of 30,000) and the username itself.
    """
    password = normalise(password)
    if len(password) < MIN_LENGTH:
        raise ValidationFailed("password is shorter than 8 characters", code="password_too_short")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed("password is longer than 128 characters", code="password_too_long")
    lowered = password.lower()
    if lowered in _common_passwords():
        raise ValidationFailed(
            "password is in the list of common passwords", code="password_common"
        )
    if username and lowered == username.lower():
        raise ValidationFailed("password equals the username", code="password_is_username")
