"""The query language and the planned search (filters folded into what may be seen)."""

from __future__ import annotations

import datetime as dt

import pytest

from polaris.errors import ValidationFailed
from polaris.search.interface import SearchQuery, Visibility
from polaris.search.query import Clause, parse, plan


def test_words_phrases_and_prefixes() -> None:
    assert parse('चोरी "प्रथम सूचना" invest* FIR-123/2025 PS-Kotwali') == (
        Clause(("चोरी",)),
        Clause(("प्रथम", "सूचना")),
        Clause(("invest",), prefix=True),
        Clause(("fir",), keys=("s:fir", "e:fir")),
        Clause(("123", "2025"), keys=("n:123/2025",)),
        Clause(("ps", "kotwali")),
    )
    assert parse("“प्रथम सूच*”") == (Clause(("प्रथम", "सूच"), prefix=True),)
    assert parse('"खुला उद्धरण') == (Clause(("खुला", "उद्धरण")),)
    assert parse("") == () and parse(" ।, ") == ()


def test_repeated_clauses_count_once() -> None:
    chori = Clause(("chori",), keys=("s:chori",), loose=("r:CR", "v:CR.OI"))
    assert parse("चोरी CHORI चोरी chori") == (Clause(("चोरी",)), chori)


def test_short_prefixes_and_long_queries_are_refused() -> None:
    with pytest.raises(ValidationFailed) as short:
        parse("a*")
    assert short.value.code == "search_prefix_short"
    assert parse("ab*") == (Clause(("ab",), prefix=True),)
    with pytest.raises(ValidationFailed):
        parse(" ".join(f"w{n}" for n in range(33)))


def test_the_plan_never_reaches_beyond_visibility() -> None:
    user = Visibility(frozenset({1, 2}), frozenset({500}), max_classification=1)
    planned = plan(SearchQuery("x", space_ids=frozenset({2, 9})), user)
    assert planned is not None
    assert planned.space_keys == {2} and planned.shared_roots == {500}
    assert planned.space_filter == frozenset({2, 9})
    assert plan(SearchQuery("x", classification=2), user) is None
    assert plan(SearchQuery("x", content_types=frozenset()), user) is None
    assert plan(SearchQuery("x"), Visibility(frozenset(), frozenset(), 3)) is None
    assert (
        plan(SearchQuery("x", space_ids=frozenset({9})), Visibility(frozenset({1}), frozenset(), 3))
        is None
    )


def test_dates_go_to_whole_utc_seconds() -> None:
    user = Visibility(frozenset({1}), frozenset(), 3)
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    start = dt.datetime(2025, 3, 1, 15, 0, 0, 250_000, tzinfo=ist)
    planned = plan(SearchQuery("x", modified_from=start, modified_to=start), user)
    assert planned is not None
    assert planned.modified_from == dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
    assert planned.modified_to == dt.datetime(2025, 3, 1, 9, 30, 1, tzinfo=dt.UTC)
    later = dt.datetime(2025, 3, 2, tzinfo=dt.UTC)
    assert plan(SearchQuery("x", modified_from=later, modified_to=later), user) is None
    with pytest.raises(ValidationFailed):
        SearchQuery("x", modified_from=dt.datetime(2025, 3, 1))
