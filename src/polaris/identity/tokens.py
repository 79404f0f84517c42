"""Secret tokens: generated with 256 bits from ``secrets``, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

SESSION_TOKEN_BYTES = 32
API_TOKEN_PREFIX = "pol_"  # noqa: S105 - a public marker, not a secret


def new_session_token() -> str:
    return secrets.token_urlsafe(SESSION_TOKEN_BYTES)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(SESSION_TOKEN_BYTES)


def digest(token: str) -> str:
    """SHA-256, hex. Enough for 256-bit random secrets (a slow hash protects guessable ones)."""
    return hashlib.sha256(token.encode()).hexdigest()
