"""The audit log's operations: append and seal here; verify, export and query re-exported.

Every function takes the caller's session and never commits: an action and its audit record are
committed together by the caller, or not at all. ``append`` and ``seal`` turn any database error
into ``AuditUnavailable`` *and roll the session back*, so a caller that swallowed the error still
cannot commit the action without its record.

``append`` only INSERTs an unsealed record with a database-generated id: no row is shared
between requests, so audited requests do not queue behind each other (there used to be one
``audit_head`` row locked by every append until commit). ``seal`` (``polaris.audit.sealing``),
run on a schedule by the server, chains the committed records and signs a checkpoint. The hash
encoding is described in ``polaris.audit.encoding``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import String
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from polaris import clock
from polaris.audit import repo, sealing
from polaris.audit.context import AuditContext, hash_session_id
from polaris.audit.encoding import canonical_json
from polaris.audit.keys import (
    AuditKeyError,
    AuditSigner,
    create_key_file,
    export_public_key,
    load_key_file,
    load_public_key,
)
from polaris.audit.models import AuditCheckpoint, AuditRecord
from polaris.audit.reading import export_jsonl, query
from polaris.audit.sealing import SealRefused
from polaris.audit.verify import Finding, FindingKind, VerifyReport, verify
from polaris.errors import AuditUnavailable

DECISIONS = ("allow", "deny")
MAX_DETAIL_CHARS = 4096
#: ``detail`` keys refused (case-insensitive suffix match): secrets never enter the log.
SECRET_KEY_SUFFIXES = ("password", "passwd", "secret", "token", "cookie", "otp", "session_id")
#: Free text that comes from outside (a user agent, a name, a reason) is clipped, not refused.
_CLIPPED_FIELDS = frozenset({"actor_name", "client", "reason"})
_MAX_CHARS = {
    column.name: column.type.length
    for column in AuditRecord.__table__.columns
    if isinstance(column.type, String) and column.type.length
}


@contextmanager
def _audit_errors(session: Session) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        with suppress(SQLAlchemyError):  # a dead connection cannot roll back, nor commit
            session.rollback()
        raise AuditUnavailable("the audit record could not be written") from exc


def append(
    *,
    session: Session,
    context: AuditContext,
    action: str,
    object_type: str | None = None,
    object_id: int | str | None = None,
    version_hash: str | None = None,
    classification: str | None = None,
    decision: str = "allow",
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """INSERT one unsealed record in the session's transaction (executed at once, not left to
    a flush); the record as written, with its id, *not attached to the session*.

    Raises ``ValueError`` for a malformed call (unknown decision, secret-looking detail key,
    identifier too long) and ``AuditUnavailable`` when the database refuses the write.
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
    if not action:
        raise ValueError("an audit record needs an action")
    raw = {
        "actor_id": context.actor_id,
        "actor_name": context.actor_name,
        "actor_role": context.actor_role,
        "unit_id": context.unit_id,
        "auth_factors": context.auth_factors,
        "session_hash": context.session_hash,
        "source_address": context.source_address,
        "client": context.client,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "version_hash": version_hash,
        "classification": classification,
        "decision": decision,
        "reason": reason,
        "request_id": context.request_id,
    }
    values: dict[str, Any] = {name: _text(name, value) for name, value in raw.items()}
    values["detail"] = _detail_text(detail)
    session.flush()  # the caller's own pending writes: their errors are theirs, not the log's
    values["at"] = clock.utcnow()
    with _audit_errors(session):
        record_id = repo.insert_record(session, values)
    # The record as written, for the caller; not attached to the session (nothing to flush).
    return AuditRecord(id=record_id, **values)


def _text(name: str, value: int | str | None) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    limit = _MAX_CHARS[name]
    if name in _CLIPPED_FIELDS:
        text = unicodedata.normalize("NFC", text).replace("\x00", "\ufffd")
        text = text.encode("utf-8", "replace").decode("utf-8")[:limit]
    elif len(text) > limit or "\x00" in text:
        raise ValueError(f"audit field {name} is longer than {limit} characters or holds NUL")
    else:
        text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
    return text


def _detail_text(detail: Mapping[str, Any] | None) -> str | None:
    if detail is None:
        return None
    _refuse_secret_keys(detail)
    try:
        text = canonical_json(detail)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit detail is not plain JSON: {exc}") from exc
    if len(text) > MAX_DETAIL_CHARS:
        raise ValueError(f"audit detail is over {MAX_DETAIL_CHARS} characters")
    text.encode("utf-8")
    return text


def _refuse_secret_keys(value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).lower().endswith(SECRET_KEY_SUFFIXES):
                raise ValueError(f"audit detail key {key!r} looks like a secret")
            _refuse_secret_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_secret_keys(item)


def seal(*, session: Session, signer: AuditSigner, adopt: bool = False) -> AuditCheckpoint | None:
    """Chain the unsealed records and sign a checkpoint (``sealing.seal``); ``None`` when
    nothing waits or another sealer is at work. Raises ``SealRefused`` on a damaged chain end."""
    with _audit_errors(session):
        return sealing.seal(session=session, signer=signer, adopt=adopt)


def count_unsealed(*, session: Session) -> int:
    """How many committed records wait for the sealer."""
    return repo.count_unsealed(session)


def seal_if_due(*, session: Session, signer: AuditSigner, interval: int) -> AuditCheckpoint | None:
    """Seal when at least ``interval`` records wait to be sealed."""
    with _audit_errors(session):
        return sealing.seal_if_due(session=session, signer=signer, interval=interval)


__all__ = [
    "AuditCheckpoint",
    "AuditContext",
    "AuditKeyError",
    "AuditRecord",
    "AuditSigner",
    "Finding",
    "FindingKind",
    "SealRefused",
    "VerifyReport",
    "append",
    "count_unsealed",
    "create_key_file",
    "export_jsonl",
    "export_public_key",
    "hash_session_id",
    "load_key_file",
    "load_public_key",
    "query",
    "seal",
    "seal_if_due",
    "verify",
]
