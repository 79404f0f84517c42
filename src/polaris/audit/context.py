"""Who acted and from where: the part of an audit record that comes from the request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SYSTEM_ROLE = "system"


@dataclass(frozen=True, slots=True)
class AuditContext:
    """The actor and request of an audited action.

    ``session_hash`` is a hash of the session id (never the id itself, which would let a reader of
    the log take over the session); ``hash_session_id`` makes one when the caller has none.
    """

    actor_id: int | str | None = None
    actor_name: str | None = None
    actor_role: str | None = None
    unit_id: int | str | None = None
    auth_factors: str | None = None
    session_hash: str | None = None
    source_address: str | None = None
    client: str | None = None
    request_id: str | None = None

    @classmethod
    def system(cls, name: str = "system", *, request_id: str | None = None) -> AuditContext:
        """Work done by Polaris itself: the CLI (pass e.g. ``"cli:<os user>"``), jobs, startup."""
        return cls(
            actor_name=name,
            actor_role=SYSTEM_ROLE,
            auth_factors="local",
            client=name,
            request_id=request_id,
        )

    @classmethod
    def anonymous(
        cls, source_address: str | None, client: str | None, request_id: str | None
    ) -> AuditContext:
        """A request without a signed-in user, such as a failed login."""
        return cls(source_address=source_address, client=client, request_id=request_id)


def hash_session_id(session_id: str) -> str:
    """A stable, non-reversible stand-in for a session id (SHA-256, hex)."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()
