"""Search that finds what officers type: folding, stems, OR/NOT, case numbers, Roman queries.

Every case runs on both engines (``search`` is each in turn, see conftest). Each table row is a
document text, a query, and whether the query finds it.
"""

from __future__ import annotations

import pytest

from polaris.errors import ValidationFailed
from polaris.search.interface import SearchDocument, SearchEngine, SearchQuery, Visibility
from polaris.search.paging import search_page
from polaris.search.query import parse_query
from polaris.search.text import TERMS_VERSION
from tests.search.test_engines import EVERYTHING, find, ids
from tests.search.test_engines import doc as named_doc


def doc(node_id: int, text: str, **fields: object) -> SearchDocument:
    """A document named ``d<id>`` (the default name holds words such as "file")."""
    fields.setdefault("name", f"d{node_id}")
    return named_doc(node_id, text, **fields)  # type: ignore[arg-type]


FOLDING = [
    # nukta: typed or not, decomposed or precomposed (U+0958-U+095F)
    ("फ़ोटो खींची गई", "फोटो", True),
    ("फोटो खींची गई", "फ़ोटो", True),
    ("बाज़ार में चोरी", "बाजार", True),
    ("बाजार में चोरी", "बाज़ार", True),
    ("\u0958ानून", "कानून", True),  # क़ precomposed
    ("\u095bिला", "जिला", True),  # ज़ precomposed
    ("\u095cकी", "डकी", True),  # ड़
    ("\u095eरार", "फ़रार", True),  # फ़ precomposed against decomposed
    ("सड़क", "सडक", True),
    # digits: Devanagari and ASCII are one
    ("वाहन संख्या ७७", "77", True),
    ("वाहन संख्या 77", "७७", True),
    ("धारा ३०३", "303", True),
    # compatibility forms (NFKC)
    ("ﬁle closed", "file", True),
    ("ＦＩＲ दर्ज", "fir", True),
    # what folding must not join
    ("हंस उड़ गया", "हँस", False),  # swan is not laugh: chandrabindu stays
    ("चार लोग", "चोरी", False),
    ("77 रुपये", "७", False),
    # English stems
    ("two thefts reported", "theft", True),
    ("the theft of a phone", "thefts", True),
    ("vehicles stolen", "vehicle", True),
    ("investigation pending", "invest", False),
    ("investigation pending", "investigations", True),
]


@pytest.mark.parametrize(("text", "query", "found"), FOLDING)
def test_folding(search: SearchEngine, text: str, query: str, found: bool) -> None:
    search.upsert([doc(1, text), doc(2, "असंबंधित unrelated")])
    assert ids(search, query) == ({1} if found else set())


def test_the_stored_text_is_never_changed(search: SearchEngine) -> None:
    search.upsert([doc(1, "फ़ोटो ७७ ﬁle", name="बाज़ार.txt")])
    (hit,) = find(search, "फोटो 77 बाजार").hits
    assert hit.name.text == "बाज़ार.txt"
    assert hit.snippet.text == "फ़ोटो ७७ ﬁle"
    marked = [hit.snippet.text[start:end] for start, end in hit.snippet.spans]
    assert marked == ["फ़ोटो", "७७"]
    assert [hit.name.text[start:end] for start, end in hit.name.spans] == ["बाज़ार"]


CASE_NUMBERS = [
    ("FIR No. 1191/2024 थाना कोतवाली", "FIR-1191/2024", True),
    ("FIR No. 1191/2024 थाना कोतवाली", "1191/24", True),
    ("FIR No. 1191/2024 थाना कोतवाली", "एफआईआर 1191/2024", True),
    ("FIR No. 1191/2024 थाना कोतवाली", "1191/2024", True),
    ("FIR No. 1191/2024 थाना कोतवाली", "एफ़आईआर 1191-2024", True),
    ("प्राथमिकी संख्या ११९१/२०२४", "FIR 1191/24", True),
    ("FIR No. 0045/26", "45/2026", True),
    ("FIR No. 1191 / 2024", "1191/2024", True),
    ("FIR No. 1191/2024", "1191/2023", False),
    ("FIR No. 1191/2024", "191/2024", False),
    ("FIR No. 11191/2024", "1191/2024", False),
    ("FIR 2024 में 1191 नहीं", "1191/2024", False),
]


@pytest.mark.parametrize(("text", "query", "found"), CASE_NUMBERS)
def test_case_numbers_as_officers_write_them(
    search: SearchEngine, text: str, query: str, found: bool
) -> None:
    search.upsert([doc(1, text), doc(2, "FIR No. 77/2023")])
    assert ids(search, query) == ({1} if found else set())


def test_a_case_number_is_marked_as_written(search: SearchEngine) -> None:
    search.upsert([doc(1, "प्राथमिकी संख्या ११९१/२०२४ दर्ज")])
    (hit,) = find(search, "1191/24").hits
    assert [hit.snippet.text[s:e] for s, e in hit.snippet.spans] == ["११९१/२०२४"]


BOOLEAN = [
    ("चोरी OR डकैती", {1, 2, 3}),
    ("चोरी | डकैती", {1, 2, 3}),
    ("मोबाइल चोरी OR डकैती", {1, 3}),
    ("चोरी NOT मोबाइल", {2}),
    ("चोरी -मोबाइल", {2}),
    ('चोरी -"मोबाइल चोरी"', {2}),
    ("चोरी OR डकैती NOT पर्स", {1, 3}),
    ("theft OR डकैती", {3, 4}),
    ("mobile NOT theft", {1, 3}),  # police's loanword finds मोबाइल
    ("चोरी or डकैती", set()),  # lower-case "or" is a word
]


@pytest.mark.parametrize(("query", "expected"), BOOLEAN)
def test_or_and_not(search: SearchEngine, query: str, expected: set[int]) -> None:
    search.upsert(
        [
            doc(1, "मोबाइल चोरी हुई"),
            doc(2, "पर्स चोरी हुआ"),
            doc(3, "मोबाइल डकैती"),
            doc(4, "theft of a bike"),
        ]
    )
    assert ids(search, query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "OR चोरी",
        "चोरी OR",
        "चोरी OR OR डकैती",
        "NOT",
        "चोरी NOT",
        "NOT चोरी",
        "-चोरी",
        "NOT चोरी OR डकैती",
    ],
)
def test_a_malformed_query_is_refused_clearly(search: SearchEngine, query: str) -> None:
    search.upsert([doc(1, "चोरी")])
    with pytest.raises(ValidationFailed) as refused:
        find(search, query)
    assert refused.value.code == "search_syntax"


ROMAN = [
    ("थाना कोतवाली में चोरी", "chori", True),
    ("थाना कोतवाली में चोरी", "chory", True),
    ("थाना कोतवाली में चोरी", "kotwali", True),
    ("थाना कोतवाली में चोरी", "thana", True),
    ("लड़की लापता", "ladki", True),
    ("लड़की लापता", "larki", True),
    ("आरोपी गिरफ़्तार", "giraftar", True),
    ("पुलिस ने मोबाइल बरामद किया", "police", True),
    ("पुलिस ने मोबाइल बरामद किया", "mobile", True),
    ("रिपोर्ट दर्ज", "report", True),
    ("थाना कोतवाली में चोरी", "dakaiti", False),
    ("फिर से बुलाया", "fir", False),  # FIR is not फिर
]


@pytest.mark.parametrize(("text", "query", "found"), ROMAN)
def test_roman_queries_find_devanagari(
    search: SearchEngine, text: str, query: str, found: bool
) -> None:
    search.upsert([doc(1, text), doc(2, "असंबंधित दस्तावेज़")])
    assert ids(search, query) == ({1} if found else set())


def test_a_closer_spelling_ranks_first_and_is_marked(search: SearchEngine) -> None:
    search.upsert([doc(1, "चार लोग आए"), doc(2, "चोरी हुई"), doc(3, "चोर पकड़ा")])
    page = find(search, "chori")
    assert next(hit.node_id for hit in page.hits) == 2  # consonants and vowels both agree
    assert {hit.node_id for hit in page.hits} == {1, 2, 3}  # consonants agree
    first = page.hits[0]
    assert [first.snippet.text[s:e] for s, e in first.snippet.spans] == ["चोरी"]


def test_an_exact_word_ranks_above_a_phonetic_match(search: SearchEngine) -> None:
    search.upsert([doc(1, "chori ki report"), doc(2, "चोरी की रिपोर्ट")])
    assert [hit.node_id for hit in find(search, "chori").hits] == [1, 2]


def test_a_roman_query_does_not_reach_hidden_documents(search: SearchEngine) -> None:
    """Authorisation filters phonetic matches as it does words: no hidden hit, same counts."""
    mine = Visibility(frozenset({1}), frozenset(), max_classification=1)
    search.upsert(
        [
            doc(1, "कोतवाली में चोरी"),
            doc(2, "कोतवाली में चोरी", space_id=2),  # another station's
            doc(3, "कोतवाली में चोरी", classification=3),  # above clearance
            doc(4, "चोरी की रिपोर्ट", space_id=2, folders=(77,)),
        ]
    )
    for query in ("chori", "kotwali", "चोरी", "chori OR report", "chori NOT kotwali"):
        page = search_page(search, SearchQuery(text=query), mine)
        assert {hit.node_id for hit in page.hits} <= {1}, query
        assert page.total == len(page.hits)
    assert search_page(search, SearchQuery(text="chori"), mine).total == 1
    assert search_page(search, SearchQuery(text="चोरी"), mine).total == 1
    shared = Visibility(frozenset({1}), frozenset({77}), max_classification=1)
    assert {hit.node_id for hit in find(search, "report chori", shared).hits} == {4}
    assert ids(search, "chori", EVERYTHING) == {1, 2, 3, 4}


def test_parse_keeps_phrases_and_prefixes_exact() -> None:
    parsed = parse_query('"chori ki" chor*')
    assert all(not clause.keys and not clause.loose for clause in parsed.clauses)


def test_the_terms_version_is_recorded(search: SearchEngine) -> None:
    assert search.terms_version() == TERMS_VERSION  # a new or empty index is current
    search.upsert([doc(1, "चोरी")])
    search.set_terms_version(TERMS_VERSION - 1)
    assert search.terms_version() == TERMS_VERSION - 1
    search.set_terms_version(TERMS_VERSION)
    assert search.terms_version() == TERMS_VERSION
