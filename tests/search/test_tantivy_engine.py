"""What only the Tantivy engine has: a directory that several processes write, and its format."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import tantivy

from polaris.search.interface import SearchDocument, SearchQuery, Visibility
from polaris.search.paging import search_page
from polaris.search.tantivy_engine import FORMAT_FILE, SearchIndexError, TantivySearchEngine

EVERYTHING = Visibility(frozenset({1}), frozenset(), 3)
BATCHES, PER_BATCH = 15, 4


def _doc(node_id: int, text: str) -> SearchDocument:
    return SearchDocument(
        node_id=node_id,
        space_id=1,
        ancestors=(1000, node_id),
        name=f"{node_id}.txt",
        text=text,
        content_type=None,
        classification=0,
        owner_id=None,
        unit_id=None,
        modified_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )


def _write_batches(path: Path, first_id: int, started: Any, go: Any) -> None:
    """Run in another process: index batches into the same directory."""
    engine = TantivySearchEngine(path, writer_heap_bytes=16_000_000)
    started.set()
    go.wait()
    for batch in range(BATCHES):
        base = first_id + batch * PER_BATCH
        engine.upsert([_doc(base + n, "साझा सूचकांक") for n in range(PER_BATCH)])


def test_processes_write_one_at_a_time_and_read_each_other(tmp_path: Path) -> None:
    path = tmp_path / "search"
    here = TantivySearchEngine(path, writer_heap_bytes=16_000_000)
    context = multiprocessing.get_context("spawn")
    started, go = context.Event(), context.Event()
    other = context.Process(target=_write_batches, args=(path, 100_000, started, go))
    other.start()
    try:
        assert started.wait(60)
        go.set()
        _write_batches_here(here)
        other.join(120)
    finally:
        if other.is_alive():
            other.kill()
    assert other.exitcode == 0
    total = 2 * BATCHES * PER_BATCH
    assert here.count() == total
    pages = [
        search_page(here, SearchQuery("सूचकांक", limit=100, offset=offset), EVERYTHING)
        for offset in (0, 100)
    ]
    assert pages[0].total == total
    found = {hit.node_id for page in pages for hit in page.hits}
    mine = set(range(1, total // 2 + 1))
    theirs = set(range(100_000, 100_000 + total // 2))
    assert found == mine | theirs


def _write_batches_here(engine: TantivySearchEngine) -> None:
    for batch in range(BATCHES):
        base = 1 + batch * PER_BATCH
        engine.upsert([_doc(base + n, "साझा सूचकांक") for n in range(PER_BATCH)])


def test_a_second_handle_sees_commits_without_reopening(tmp_path: Path) -> None:
    writer = TantivySearchEngine(tmp_path, writer_heap_bytes=16_000_000)
    reader = TantivySearchEngine(tmp_path, writer_heap_bytes=16_000_000)
    assert search_page(reader, SearchQuery("सूचकांक"), EVERYTHING).total == 0
    writer.upsert([_doc(1, "सूचकांक")])
    assert search_page(reader, SearchQuery("सूचकांक"), EVERYTHING).total == 1
    reader.delete([1])
    assert writer.count() == 0


def test_a_failed_batch_leaves_the_last_commit(tmp_path: Path) -> None:
    engine = TantivySearchEngine(tmp_path, writer_heap_bytes=16_000_000)
    engine.upsert([_doc(1, "पहला")])
    broken = _doc(2, "दूसरा")
    object.__setattr__(broken, "classification", -1)  # not a u64: the batch fails half-way
    with pytest.raises((OverflowError, ValueError)):
        engine.upsert([_doc(3, "तीसरा"), broken])
    assert engine.count() == 1
    engine.upsert([_doc(4, "चौथा")])  # the lock and the writer were let go
    assert engine.count() == 2


def test_another_format_or_a_foreign_index_is_refused(tmp_path: Path) -> None:
    TantivySearchEngine(tmp_path / "ours", writer_heap_bytes=16_000_000)
    (tmp_path / "ours" / FORMAT_FILE).write_text(json.dumps({"format": 999}))
    with pytest.raises(SearchIndexError, match="format 999"):
        TantivySearchEngine(tmp_path / "ours")
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body")
    (tmp_path / "foreign").mkdir()
    tantivy.Index(builder.build(), path=str(tmp_path / "foreign"))
    with pytest.raises(SearchIndexError, match="not Polaris"):
        TantivySearchEngine(tmp_path / "foreign")
