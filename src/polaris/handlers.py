"""The modules that register job handlers, loaded by every process that runs jobs.

``polaris.jobs`` knows no domain; this is where the domains' handlers are gathered (as ``app.py``
gathers their routers). A worker only claims jobs whose kind has a handler in its process.
"""

from __future__ import annotations


def load_job_handlers() -> None:
    import polaris.admin.jobs
    import polaris.ingest.jobs
    import polaris.ingest.text_jobs
    import polaris.search.indexing  # noqa: F401
