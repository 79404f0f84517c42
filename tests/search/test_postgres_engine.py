"""What only the PostgreSQL engine has: the tsvector it writes, and its limits."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import Engine, create_engine, text

from polaris.search.interface import (
    MAX_CHECKED,
    MAX_LIMIT,
    MAX_OFFSET,
    SearchDocument,
    SearchQuery,
    Visibility,
)
from polaris.search.paging import search_page
from polaris.search.postgres_engine import (
    MAX_POSITION,
    MAX_RANKED,
    PostgresSearchEngine,
    tsvector_literal,
)


def test_the_tsvector_literal_is_taken_as_written(search_pg_engine: Engine) -> None:
    literal = tsvector_literal(["चोरी", "रिपोर्ट"], ["चोरी", "it's", "a\\b"])
    assert literal == "'चोरी':1A,4 'रिपोर्ट':2A 'it''s':5 'a\\\\b':6"
    with search_pg_engine.connect() as connection:
        lexemes = connection.execute(
            text("SELECT array_to_string(tsvector_to_array(CAST(:v AS tsvector)), '|')"),
            {"v": literal},
        ).scalar_one()
    assert sorted(lexemes.split("|")) == sorted(["a\\b", "it's", "चोरी", "रिपोर्ट"])


def test_positions_stop_at_postgresqls_limit() -> None:
    words = [f"w{n}" for n in range(MAX_POSITION + 10)]
    literal = tsvector_literal([], words)
    assert f"'w{MAX_POSITION + 5}':{MAX_POSITION}" in literal
    assert len(tsvector_literal([], ["x"] * 1000)) < 2000  # at most 256 positions a word


def test_a_long_document_is_still_found_by_its_last_words(search_pg_engine: Engine) -> None:
    engine = PostgresSearchEngine(search_pg_engine)
    body = " ".join(["भराव"] * 20_000 + ["अंतिम", "शब्द"])
    engine.upsert(
        [
            SearchDocument(
                node_id=1,
                space_id=1,
                ancestors=(1,),
                name="लंबा.txt",
                text=body,
                content_type=None,
                classification=0,
                owner_id=None,
                unit_id=None,
                modified_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            )
        ]
    )
    try:
        everyone = Visibility(frozenset({1}), frozenset(), 0)
        assert search_page(engine, SearchQuery("अंतिम शब्द"), everyone).total == 1
        # Known limit: a phrase beyond word 16,383 is not found (Tantivy finds it).
        assert search_page(engine, SearchQuery('"अंतिम शब्द"'), everyone).total == 0
    finally:
        engine.clear()


def test_sqlite_is_refused(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        PostgresSearchEngine(create_engine("sqlite://"))


def test_past_max_ranked_the_total_is_a_lower_bound(search_pg_engine: Engine) -> None:
    engine = PostgresSearchEngine(search_pg_engine, max_ranked=10)
    engine.upsert([_document(n, space_id=1 if n <= 12 else 9) for n in range(1, 40)])
    try:
        user = Visibility(frozenset({1}), frozenset(), 0)
        page = search_page(engine, SearchQuery("गबन", limit=5), user)
        assert page.total == 10 and not page.total_exact
        assert len(page.hits) == 5 and all(hit.node_id <= 12 for hit in page.hits)
        listing = search_page(engine, SearchQuery(""), user)
        assert listing.total == 10 and not listing.total_exact
        few = search_page(engine, SearchQuery("गबन"), Visibility(frozenset(), frozenset({3, 4}), 0))
        assert few.total == 2 and few.total_exact
    finally:
        engine.clear()


def test_the_cap_reaches_the_deepest_page_and_tells_there_are_more(
    search_pg_engine: Engine,
) -> None:
    """``MAX_RANKED`` is every reachable page (offset 1,000 + limit 100) and one more: 1,100
    visible matches are counted exactly and the last page is full; with one more the total
    becomes a lower bound. Hidden documents, first in the table, use none of it."""
    assert MAX_RANKED == MAX_OFFSET + MAX_LIMIT + 1
    engine = PostgresSearchEngine(search_pg_engine)
    hidden = [_document(n, space_id=9) for n in range(1, 2001)]
    engine.upsert(hidden + [_document(n, space_id=1) for n in range(5001, 5001 + MAX_CHECKED)])
    try:
        user = Visibility(frozenset({1}), frozenset(), 0)
        last = SearchQuery("गबन", offset=MAX_OFFSET, limit=MAX_LIMIT)
        page = search_page(engine, last, user)
        assert (page.total, page.total_exact, len(page.hits)) == (MAX_CHECKED, True, MAX_LIMIT)
        assert not page.has_more
        engine.upsert([_document(9999, space_id=1)])
        page = search_page(engine, last, user)
        assert (page.total, page.total_exact, len(page.hits)) == (MAX_CHECKED, False, MAX_LIMIT)
    finally:
        engine.clear()


def test_under_the_cap_the_first_page_and_total_are_those_of_no_cap(
    search_pg_engine: Engine,
) -> None:
    """The cap changes nothing a user sees while their matches fit in it: the same first page,
    in the same order, and the same total, as an engine that ranks every match; hidden matches
    (other spaces, higher levels) count for nothing."""
    capped = PostgresSearchEngine(search_pg_engine, max_ranked=13)  # 12 matches, and one more
    uncapped = PostgresSearchEngine(search_pg_engine, max_ranked=1_000_000)
    others = [_document(n, space_id=9) for n in range(1, 40)]
    secret = [replace(_document(n, space_id=1), classification=3) for n in range(40, 60)]
    mine = [
        replace(_document(n, space_id=1), text="गबन " * (1 + n % 4) + "का मामला")
        for n in range(60, 72)
    ]
    capped.upsert(others + secret + mine)
    try:
        user = Visibility(frozenset({1}), frozenset(), 0)
        for text_ in ("गबन", "गबन मामला", '"का मामला"'):
            query = SearchQuery(text_, limit=5)
            one, other = search_page(capped, query, user), search_page(uncapped, query, user)
            assert one.hits == other.hits and (one.total, one.total_exact) == (12, True)
            assert other.total == 12
    finally:
        capped.clear()


def _document(node_id: int, *, space_id: int) -> SearchDocument:
    return SearchDocument(
        node_id=node_id,
        space_id=space_id,
        ancestors=(space_id * 1000, node_id),
        name=f"{node_id}.txt",
        text="गबन का मामला",
        content_type=None,
        classification=0,
        owner_id=None,
        unit_id=None,
        modified_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
