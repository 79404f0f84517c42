"""Audit contexts for system work and anonymous requests; the session hash."""

from __future__ import annotations

import hashlib

import pytest

from polaris.audit.context import AuditContext, hash_session_id


def test_system_and_anonymous_contexts() -> None:
    system = AuditContext.system("cli:root", request_id="job-1")
    assert (system.actor_name, system.actor_role, system.auth_factors) == (
        "cli:root",
        "system",
        "local",
    )
    assert system.actor_id is None
    assert system.request_id == "job-1"
    anonymous = AuditContext.anonymous(source_address="10.1.1.1", client="curl", request_id="r")
    assert anonymous == AuditContext(source_address="10.1.1.1", client="curl", request_id="r")


def test_a_context_is_immutable() -> None:
    context = AuditContext(actor_id=1)
    with pytest.raises(AttributeError):
        context.actor_id = 2  # type: ignore[misc]


def test_the_session_hash_never_reveals_the_id() -> None:
    hashed = hash_session_id("s3cret-session")
    assert hashed == hashlib.sha256(b"s3cret-session").hexdigest()
    assert "s3cret" not in hashed
