"""Database infrastructure: engine, sessions, base model and migrations. Knows no domain."""

from __future__ import annotations

from polaris.db.base import Base, UTCDateTime
from polaris.db.engine import make_engine, make_session_factory

__all__ = ["Base", "UTCDateTime", "make_engine", "make_session_factory"]
