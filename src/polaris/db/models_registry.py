"""Imports every domain's models so that ``Base.metadata`` is complete (for Alembic and tests).

This is the one place in ``db`` that names domains; it exists only to collect their tables.
"""

from __future__ import annotations

import polaris.audit.models
import polaris.drive.models
import polaris.events.models
import polaris.identity.models
import polaris.ingest.models
import polaris.ingest.text_models
import polaris.jobs.models
import polaris.search.models  # noqa: F401
from polaris.db.base import Base

metadata = Base.metadata
