"""The modules that register job handlers and change-stream consumers, loaded by every process
that runs them, and :func:`settle`, which runs both here until nothing is left to do.

``polaris.jobs`` and ``polaris.events`` know no domain; this is where the domains' handlers and
consumers are gathered (as ``app.py`` gathers their routers). A worker only claims jobs whose kind
has a handler in its process; an event runner only runs the consumers registered in its process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polaris.instance import Instance


def load_job_handlers() -> None:
    import polaris.admin.jobs
    import polaris.chat.retention
    import polaris.drive.placements
    import polaris.drive.retention_run
    import polaris.drive.scan_jobs
    import polaris.ingest.jobs
    import polaris.ingest.text_jobs
    import polaris.search.indexing
    import polaris.search.messages  # noqa: F401


def load_consumers() -> None:
    import polaris.chat.channels
    import polaris.drive.consumers
    import polaris.drive.placements
    import polaris.ingest.consumers
    import polaris.notifications.chat
    import polaris.notifications.shares
    import polaris.resilience.consumers
    import polaris.search.consumers
    import polaris.search.messages  # noqa: F401


def schedule_periodic(instance: Instance) -> None:
    """Queue the periodic jobs (the retention pass) unless one is waiting already: each queues
    its next run itself, so this only starts the chain (or restarts one a failure ended)."""
    from polaris.chat import retention as chat_retention
    from polaris.db.uow import unit_of_work
    from polaris.drive import retention_run
    from polaris.search import indexing, messages

    with unit_of_work(instance.sessions) as session:
        retention_run.ensure_scheduled(session)
        chat_retention.ensure_scheduled(session)
    indexing.ensure_current(instance)  # an index of older terms is rebuilt
    messages.ensure_current(instance)


def settle(instance: Instance, *, raise_errors: bool = True) -> tuple[int, int]:
    """Run event passes and due jobs in this thread, alternately, until neither has work: what a
    change causes (an upload's previews, text and index) is then done. Returns (events handed
    over, jobs run).

    For tests and ``polaris worker --drain``. A job waiting for its retry (backoff) is not due and
    is left; a failing consumer raises (after its error is recorded) unless ``raise_errors`` is off.
    """
    from polaris import events, jobs

    load_job_handlers()
    load_consumers()
    handed = ran = 0
    while True:
        moved = events.drain(instance.sessions, raise_errors=raise_errors)
        done = jobs.run_pending(instance)
        handed, ran = handed + moved, ran + done
        if moved == 0 and done == 0:
            return handed, ran
