"""The guard's state: one row per account it has seen write, and the files marked as canaries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime


class GuardAccount(Base):
    """What the guard knows of one account's recent writes (see ``resilience.scoring``).

    ``recent`` is the sliding window: ``[epoch seconds, points]`` for each write of the last
    ``WINDOW_SECONDS``; ``score`` is the sum of its points. ``minute_start``/``minute_writes``
    count the writes of the current minute, ``baseline`` the account's usual writes per minute
    (a moving average of the minutes it wrote in). ``evidence`` holds the latest findings, for
    the administrators' page and the audit record of a freeze.
    """

    __tablename__ = "guard_account"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    score: Mapped[int] = mapped_column(Integer, default=0)
    recent: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    minute_start: Mapped[int] = mapped_column(Integer, default=0)
    minute_writes: Mapped[int] = mapped_column(Integer, default=0)
    baseline: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    frozen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GuardCanary(Base):
    """A file planted or chosen as a canary: nobody has a reason to change it, so a rename,
    an overwrite or a trash of it freezes the account that did it at once."""

    __tablename__ = "guard_canary"

    node_id: Mapped[int] = mapped_column(
        ForeignKey("node.id", ondelete="CASCADE"), primary_key=True
    )
    marked_by: Mapped[int | None] = mapped_column(Integer)
    marked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
