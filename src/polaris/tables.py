"""Every table of Polaris, collected by the composition root: ``Base.metadata`` made complete.

Alembic (``db/migrations/env.py``) and the tests that compare the models with the migrations use
it. It lives here, above the domains, and not in ``db``: the database layer knows no domain
(docs/architecture.md, "Modules and imports"). A new domain with tables adds its models here.
"""

from __future__ import annotations

import polaris.audit.models
import polaris.chat.models
import polaris.dav.models
import polaris.drive.models
import polaris.events.models
import polaris.identity.models
import polaris.ingest.models
import polaris.ingest.text_models
import polaris.jobs.models
import polaris.matrix.models
import polaris.notifications.models
import polaris.resilience.models
import polaris.search.models  # noqa: F401
from polaris.db.base import Base

metadata = Base.metadata
