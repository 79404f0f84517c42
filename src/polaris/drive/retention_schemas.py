"""Request and response models of the retention and legal hold API (``drive.api_retention``)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from polaris.drive.models import LegalHold, RetentionRule
from polaris.drive.retention import MAX_DAYS, MAX_YEARS
from polaris.drive.schemas import ClassificationName, classification_level, classification_name
from polaris.web.params import Id


class RuleSet(BaseModel):
    """A rule for exactly one of ``space_id``, ``folder_id`` and ``classification``."""

    model_config = ConfigDict(extra="forbid")

    space_id: Id | None = None
    folder_id: Id | None = None
    classification: ClassificationName | None = None
    keep_versions_years: int | None = Field(default=None, ge=1, le=MAX_YEARS)
    purge_trash_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)

    def level(self) -> int | None:
        return (
            None if self.classification is None else int(classification_level(self.classification))
        )


class RuleRead(BaseModel):
    id: int
    space_id: int | None
    folder_id: int | None
    classification: ClassificationName | None
    keep_versions_years: int | None
    purge_trash_days: int | None
    updated_at: dt.datetime

    @classmethod
    def of(cls, rule: RetentionRule) -> RuleRead:
        return cls(
            id=rule.id,
            space_id=rule.space_id,
            folder_id=rule.node_id,
            classification=None
            if rule.classification is None
            else classification_name(rule.classification),
            keep_versions_years=rule.keep_versions_years,
            purge_trash_days=rule.purge_trash_days,
            updated_at=rule.updated_at,
        )


class HoldChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class HoldRead(BaseModel):
    id: int
    node_id: int
    reason: str
    held_by: int | None
    held_at: dt.datetime
    released_at: dt.datetime | None
    released_by: int | None
    release_reason: str | None

    @classmethod
    def of(cls, hold: LegalHold) -> HoldRead:
        return cls(
            id=hold.id,
            node_id=hold.node_id,
            reason=hold.reason,
            held_by=hold.held_by,
            held_at=hold.held_at,
            released_at=hold.released_at,
            released_by=hold.released_by,
            release_reason=hold.release_reason,
        )
