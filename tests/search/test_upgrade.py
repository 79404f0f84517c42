"""An index of an older format is emptied and marked for a rebuild (the rebuild itself:
tests/web/test_search.py, which has an instance)."""

from __future__ import annotations

import json
from pathlib import Path

from polaris.search.tantivy_engine import FORMAT_FILE, TantivySearchEngine
from polaris.search.text import TERMS_VERSION
from tests.search.test_tantivy_engine import _doc


def test_a_format_1_index_is_emptied_and_marked_for_a_rebuild(tmp_path: Path) -> None:
    engine = TantivySearchEngine(tmp_path, writer_heap_bytes=16_000_000)
    assert engine.terms_version() == TERMS_VERSION  # a new index holds today's terms
    engine.upsert([_doc(1, "चोरी")])
    (tmp_path / FORMAT_FILE).write_text(json.dumps({"format": 1}))
    reopened = TantivySearchEngine(tmp_path, writer_heap_bytes=16_000_000)
    assert reopened.count() == 0
    assert reopened.terms_version() == 0
    reopened.upsert([_doc(2, "चोरी")])
    assert reopened.count() == 1
