"""``polaris search``: rebuild the full-text index, and see how big it is."""

from __future__ import annotations

from pathlib import Path

import typer

from polaris.cli.context import DataDirOption, console, instance_for, progress_bar

search_app = typer.Typer(no_args_is_help=True, help="The full-text search index.")


@search_app.command("reindex")
def reindex(data_dir: Path | None = DataDirOption) -> None:
    """Rebuild the indexes from the database (after a restore, or a change of engine): the
    documents' and the messenger's messages'."""
    from polaris.search.indexing import reindex_all
    from polaris.search.messages import reindex_messages

    with instance_for(data_dir) as instance:
        with progress_bar("indexing spaces") as progress:
            indexed = reindex_all(instance, on_progress=progress)
        messages = reindex_messages(instance)
    console.print(f"indexed {indexed} files and folders, and {messages} messages")


@search_app.command("status")
def status(data_dir: Path | None = DataDirOption) -> None:
    """Which engine answers, and how many documents it holds."""
    from polaris.search.indexing import engine_of
    from polaris.search.messages import message_engine_of

    with instance_for(data_dir) as instance:
        count = engine_of(instance).count()
        messages = message_engine_of(instance).count()
        console.print(
            f"engine: {instance.settings.search.engine}; documents: {count}; messages: {messages}"
        )
