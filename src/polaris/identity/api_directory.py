"""The directory's picker for JSON clients and the share form's script:
``GET /api/v1/directory/suggest?q=``.

A few entries (people, units, groups) matching what was typed, labelled in the caller's language
(``polaris_lang`` cookie, else ``Accept-Language``), only those the caller may see
(``identity.suggest``). Nothing is audited: it names what every officer may name anyway.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from polaris.db.uow import transaction
from polaris.deps import DbSession, ReadCaller
from polaris.identity import suggest
from polaris.web.i18n import pick_language

router = APIRouter(tags=["directory"])


class SuggestionRead(BaseModel):
    kind: Literal["user", "unit", "group"]
    id: int
    ref: str = Field(description="What the share form sends for it: kind:id")
    label: str = Field(description="Rank and name, unit name or group name, in your language")
    unit: str = Field(description="The person's or group's unit, or the unit's parent unit")
    handle: str = Field(description="Username, unit code or group name")


@router.get("/directory/suggest", response_model=list[SuggestionRead])
def suggest_entries(
    request: Request,
    caller: ReadCaller,
    session: DbSession,
    q: Annotated[str, Query(max_length=200, description="Part of a name, rank, unit or code")],
    kind: Annotated[list[Literal["user", "unit", "group"]] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=suggest.MAX_LIMIT)] = suggest.DEFAULT_LIMIT,
) -> list[SuggestionRead]:
    language = pick_language(request)
    with transaction(session, read_only=True):
        found = suggest.suggest(
            session=session,
            actor=caller.actor,
            query=q,
            language=language,
            kinds=kind or suggest.KINDS,
            limit=limit,
        )
    return [
        SuggestionRead(
            kind=item.kind,
            id=item.id,
            ref=item.ref,
            label=item.label,
            unit=item.unit,
            handle=item.handle,
        )
        for item in found
    ]
