"""``polaris worker`` and ``polaris jobs``: run background jobs apart from the web server."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import typer

from polaris.cli.context import DataDirOption, console, instance_for

jobs_app = typer.Typer(no_args_is_help=True, help="The background job queue.")


def worker(
    data_dir: Path | None = DataDirOption,
    threads: int = typer.Option(1, min=1, max=32, help="Jobs run at once in this process."),
    drain: bool = typer.Option(
        False, help="Hand over every event and run every due job, then exit (no waiting)."
    ),
) -> None:
    """Run background jobs (previews, imports...) and the change stream's consumers until
    stopped with Ctrl-C or SIGTERM."""
    from polaris.events.runner import EventRunner
    from polaris.handlers import load_consumers, load_job_handlers, schedule_periodic, settle
    from polaris.jobs import Worker

    load_job_handlers()
    load_consumers()
    with instance_for(data_dir) as instance:
        if drain:
            handed, ran = settle(instance, raise_errors=False)
            console.print(f"ran {ran} job(s); {handed} event(s) handed over")
            return
        from polaris.web import logs

        # A long-running worker logs like the server: JSON lines to stderr, the day files and
        # the SIEM (settings ``logs.*``).
        logs.configure(instance.settings.logs, directory=instance.settings.resolved_log_path)
        schedule_periodic(instance)
        running = Worker(instance, threads=threads)
        events = EventRunner(instance)

        def stop(_signal: int, _frame: FrameType | None) -> None:
            console.print("stopping: finishing the jobs under way")
            events.stop()
            running.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        running.start()
        events.start()
        console.print(f"worker running with {threads} thread(s)")
        running.wait()


@jobs_app.command("status")
def status(data_dir: Path | None = DataDirOption) -> None:
    """How many jobs are queued, running, done and failed, and the latest failures."""
    from polaris.jobs import repo

    with instance_for(data_dir) as instance:
        session = instance.read_sessions()
        try:
            with session.begin():
                counts = repo.count_by_status(session)
                failures = repo.latest_failures(session, limit=20)
                lines = [f"{job.id}\t{job.kind}\t{job.error}" for job in failures]
        finally:
            session.close()
    for name in ("queued", "running", "done", "failed"):
        console.print(f"{name}: {counts.get(name, 0)}")
    for line in lines:
        console.print(f"[red]failed[/] {line}", highlight=False)
