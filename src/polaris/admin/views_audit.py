"""The audit log: filter by user, unit, action, object and dates; page back in time; export.

The filters become one ``audit.reading.RecordFilter``, the same the query and the export use;
the export writes what ``polaris audit export`` writes (JSON lines), or CSV for a spreadsheet.
Dates are UTC days: "until" includes the whole of its day.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from polaris.admin import audit_sentences
from polaris.admin._pages import AdminPageCaller, admin_page
from polaris.audit import reading
from polaris.audit.models import AuditRecord
from polaris.clock import utcnow
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.errors import NotFound
from polaris.identity import units, users
from polaris.web.i18n import pick_language
from polaris.web.messages import N_
from polaris.web.params import Seq

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STREAM_PIECE = 64 * 1024
UNKNOWN_USER = N_("No user has this username.")
UNKNOWN_UNIT = N_("No unit has this code.")
BAD_DATE = N_("A date is not valid: use the form YYYY-MM-DD.")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class Filters:
    """The filter form as sent (shown back in the form, and carried by paging and export)."""

    user: str = ""
    unit: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: str = ""
    until: str = ""
    #: "show" to list searches too (hidden by default: they are most of the rows).
    searches: str = ""

    def query(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value}


def _day(text: str) -> dt.datetime | None:
    """Midnight UTC of an ISO date; None when empty. Raises ValueError when not a date."""
    if not text.strip():
        return None
    return dt.datetime.combine(dt.date.fromisoformat(text.strip()), dt.time(), tzinfo=dt.UTC)


def _record_filter(session: DbSession, filters: Filters) -> reading.RecordFilter:
    """The service filter for the form; raises ``LookupError`` with the message to show."""
    actor_id = unit_id = None
    if filters.user.strip():
        try:
            actor_id = users.get_by_username(session=session, username=filters.user).id
        except NotFound:
            raise LookupError(UNKNOWN_USER) from None
    if filters.unit.strip():
        try:
            unit_id = units.get_by_code(session=session, code=filters.unit.strip()).id
        except NotFound:
            raise LookupError(UNKNOWN_UNIT) from None
    try:
        since = _day(filters.since)
        until = _day(filters.until)
        after_until = until + dt.timedelta(days=1) if until else None
    except (ValueError, OverflowError):
        raise LookupError(BAD_DATE) from None
    return reading.RecordFilter(
        actor_id=actor_id,
        unit_id=unit_id,
        action=filters.action.strip() or None,
        object_type=filters.object_type.strip() or None,
        object_id=filters.object_id.strip() or None,
        since=since,
        until=after_until,
        exclude_actions=_excluded(filters),
    )


def _excluded(filters: Filters) -> tuple[str, ...]:
    """Searches are left out unless asked for, or unless the action filter names them."""
    searching = filters.action.strip() in (audit_sentences.SEARCH_ACTION, "search.*")
    if filters.searches == "show" or searching:
        return ()
    return (audit_sentences.SEARCH_ACTION,)


@router.get("/admin/audit")
def audit_log(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    user: str = "",
    unit: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: str = "",
    until: str = "",
    searches: Literal["", "show"] = "",
    before: Seq | None = None,
) -> Response:
    filters = Filters(user, unit, action, object_type, object_id, since, until, searches)
    found: list[AuditRecord] = []
    error = None
    with transaction(session):
        try:
            where = _record_filter(session, filters)
        except LookupError as problem:
            error = str(problem)
        else:
            found = reading.find(
                session=session, where=where, before_id=before, limit=PAGE_SIZE + 1
            )
        unit_codes = {str(u.id): u.code for u in units.list_units(session=session)}
        more = len(found) > PAGE_SIZE
        shown = found[:PAGE_SIZE]
        names = audit_sentences.names_for(session, shown)
    language = pick_language(request)
    sentences = {r.id: audit_sentences.sentence(r, names, language=language) for r in shown}
    return admin_page(
        request,
        caller,
        "admin/audit.html",
        section="audit",
        filters=filters,
        records=shown,
        sentences=sentences,
        unit_codes=unit_codes,
        next_before=shown[-1].id if more else None,
        before=before,
        error=error,
    )


@router.get("/admin/audit/export")
def export(
    caller: AdminPageCaller,
    instance: CurrentInstance,
    session: DbSession,
    format: Literal["jsonl", "csv"] = "jsonl",
    user: str = "",
    unit: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: str = "",
    until: str = "",
    searches: Literal["", "show"] = "",
) -> Response:
    """Every record matching the filters, oldest first, as a file to download.

    Written to a temporary file from a read-only snapshot (no lock held on the log), then
    streamed: memory stays bounded however many records match.
    """
    filters = Filters(user, unit, action, object_type, object_id, since, until, searches)
    with transaction(session):
        try:
            where = _record_filter(session, filters)
        except LookupError:
            raise NotFound("no records match these filters", code="not_found") from None
    spool = tempfile.TemporaryFile("w+b")  # noqa: SIM115 - closed by the stream
    reader = instance.read_sessions()
    try:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        reading.export_filtered(session=reader, out=text, where=where, fmt=format)
        text.flush()
        text.detach()
    except BaseException:
        spool.close()
        raise
    finally:
        reader.close()
    spool.seek(0)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        _stream(spool),
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="polaris-audit-{stamp}.{format}"',
            "Cache-Control": "no-store",
        },
    )


def _stream(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while piece := spool.read(STREAM_PIECE):
            yield piece
    finally:
        spool.close()
