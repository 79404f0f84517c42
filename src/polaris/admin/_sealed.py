"""Secrets a background job must carry (an uploaded CSV, generated first passwords), sealed.

AES-256-GCM under a key derived from the instance's key material for one purpose
(``KeyStore.derive_secret``), a random 96-bit nonce, and associated data that names what the
secret is for, so a sealed value copied to another job or purpose does not open. Stored as
base64 text in a job's JSON payload: the database never holds them in plaintext.
"""

from __future__ import annotations

import base64
import os
from dataclasses import asdict
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from polaris.audit.context import AuditContext
from polaris.instance import Instance

_NONCE_BYTES = 12


def _key(instance: Instance, purpose: str) -> bytes:
    return instance.blobs.keys.derive_secret(f"admin {purpose}")


def seal(instance: Instance, purpose: str, data: bytes, *, bound_to: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nonce + AESGCM(_key(instance, purpose)).encrypt(nonce, data, bound_to.encode())
    return base64.b64encode(sealed).decode("ascii")


def unseal(instance: Instance, purpose: str, text: str, *, bound_to: str) -> bytes:
    """The sealed bytes; raises ``cryptography.exceptions.InvalidTag`` if altered or misbound."""
    sealed = base64.b64decode(text)
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    return AESGCM(_key(instance, purpose)).decrypt(nonce, ciphertext, bound_to.encode())


def context_to_payload(context: AuditContext) -> dict[str, Any]:
    """The requester's audit context, for the job to act (and be audited) in their name."""
    return asdict(context)


def context_from_payload(values: dict[str, Any]) -> AuditContext:
    return AuditContext(**values)
