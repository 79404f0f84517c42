"""The state-scale engine: PostgreSQL full-text search over the ``search_entry`` table.

Tokenised in Python, not by PostgreSQL. The name and text are cut into words by
:func:`polaris.search.text.tokens` (the rule Tantivy applies) and written as a ``tsvector``
*literal* (``'चोरी':3 'प्रथम':1A``), which PostgreSQL stores as given: no parser, no dictionary, no
locale. Queries are ``tsquery`` literals made from the same words. Hindi is then split exactly as
on the embedded engine, whatever the server's ``lc_ctype`` (``to_tsvector('simple', ...)`` is right
only under a UTF-8 character-type locale, and even then its parser keeps ``report.pdf`` as one
word and reads ``FIR-123/2025`` as ``fir``, ``-123``, ``/2025``). Each word's keys (stem,
loanword, Roman skeleton, case number: :mod:`polaris.search.keys`) are lexemes at the word's
position, so a key weighs as its word does; a query clause is ``(word | key | ...)``.

The terms version the rows were written with is the table's comment (``polaris-terms N``): no
migration carries it, and ``polaris.search.indexing.ensure_current`` rebuilds on a change.

Positions: name words first (weight A, so a name match ranks higher), then the text, one position
apart so no phrase spans the two. PostgreSQL keeps at most 256 positions a word and none past
16,383; a phrase that occurs only beyond word 16,383 of a long document is not found (a word
still is), where Tantivy finds it. Snippets come from :mod:`polaris.search.highlight`, as with
Tantivy, not from ``ts_headline`` (which re-parses with PostgreSQL's parser, see there).

Ranking has no early exit in PostgreSQL (``ts_rank`` reads every matching row's ``tsvector``),
so a search ranks the first :data:`MAX_RANKED` visible matches (in the table's order) and hands
over the best of those (``matches``); beyond that the total is a lower bound (``total_exact``
false) and the best hits are the best of that sample. Rare words and phrases, which people search
for, stay well below. ``ts_rank`` reads only the document's own ``tsvector`` (no corpus
statistics), so the order of a user's hits owes nothing to documents they cannot see.

Authorisation is part of the ``WHERE`` clause that ranks, counts and pages:
``(space_id = ANY(:spaces) OR ancestors && :shared_roots) AND classification <= :clearance``.
For a user who reads few spaces PostgreSQL intersects the GIN bitmap of the words with the bitmaps
of the space (B-tree) and shares (GIN) before it reads a row. For one who reads more than
:data:`BROAD_VISIBILITY` spaces (HQ reads 1,050) the space test is written ``space_id + 0``, which
no index serves: the planner otherwise built a bitmap of most of the table from the B-tree (64 ms
of a 190 ms phrase search at 200,000 documents) to drop a tenth of the rows; as a filter it is a
hash probe a row (PostgreSQL 14+). (An earlier draft put the spaces into the shares' array as
negative ids: ``&&`` compares every element with every element, and 1,050 spaces made that 20
times slower.) The ``tsvector`` is stored ``MAIN`` (in the row), so rechecks and ranking read no
TOAST.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from polaris.clock import utcnow
from polaris.search.interface import (
    MAX_CHECKED,
    Matches,
    Rejected,
    SearchDocument,
    SearchQuery,
    StoredText,
    Visibility,
)
from polaris.search.keys import Position, analyse
from polaris.search.models import SearchEntry
from polaris.search.query import Clause, Item, Parsed, Plan, plan, stored_second
from polaris.search.text import TERMS_VERSION, nfc

#: PostgreSQL's limits: positions 1..16383, 256 positions a lexeme, a tsvector under 1 MB.
MAX_POSITION = 16383
MAX_POSITIONS_PER_WORD = 256
MAX_TSVECTOR_BYTES = 1_000_000
#: ``ts_rank`` normalisation 1: divide by 1 + log(document length), as BM25 favours short texts.
RANK_NORMALISATION = 1
BATCH = 500
#: Matches ranked at most, and counted at most (then the total is a lower bound). PostgreSQL has
#: no early exit from ranking: a word in half of a million visible documents would cost seconds.
#: Every page a user can reach ends by ``MAX_CHECKED`` (offset 1,000 + limit 100); one more tells
#: that there are more. Ranking 2,000 cost a common word 143 ms at 1M documents, 1,101 cost 16.
MAX_RANKED = MAX_CHECKED + 1
#: The planner's cost of a random page read for the search transaction. The default (4, for
#: spinning disks) made it read a common word's GIN bitmap and the table in physical order rather
#: than stop after the first matches; the index and the rows sit in memory or on SSD.
RANDOM_PAGE_COST = 1.1
#: A user who reads more spaces than this (HQ, a range) is filtered row by row, not by index.
BROAD_VISIBILITY = 200

TERMS_COMMENT = "polaris-terms "

_entry = SearchEntry.metadata.tables[SearchEntry.__tablename__]


class PostgresSearchEngine:
    """Full-text search in the instance's PostgreSQL database."""

    def __init__(
        self, engine: Engine, *, max_ranked: int = MAX_RANKED, table: Table = _entry
    ) -> None:
        """``table``: ``search_entry`` (documents) or another of its shape (the messages')."""
        if engine.dialect.name != "postgresql":
            raise ValueError("the postgresql search engine needs a PostgreSQL database")
        self._engine = engine
        self._table = table
        self._max_ranked = max_ranked
        #: Write transactions committed through this object (for tests and benchmarks).
        self.commits = 0

    # --- writes -------------------------------------------------------------------------------

    def upsert(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        latest = {document.node_id: document for document in documents}
        rows = [_row(document) for document in latest.values()]
        with self._engine.begin() as connection:
            for start in range(0, len(rows), BATCH):
                connection.execute(_upsert_statement(self._table), rows[start : start + BATCH])
        self.commits += 1

    def delete(self, node_ids: Sequence[int]) -> None:
        with self._engine.begin() as connection:
            _delete(self._table, connection, node_ids)
        self.commits += 1

    def write(self, documents: Sequence[SearchDocument], removed: Sequence[int]) -> Rejected:
        latest = {document.node_id: document for document in documents}
        rejected: Rejected = {}
        rows: list[dict[str, Any]] = []
        for node_id, document in latest.items():
            try:
                rows.append(_row(document))
            except (ValueError, TypeError) as error:
                rejected[node_id] = f"{type(error).__name__}: {error}"
        gone = set(removed) - latest.keys()
        if not rows and not gone:
            return rejected
        statement = _upsert_statement(self._table)
        with self._engine.begin() as connection:
            _delete(self._table, connection, gone)
            for start in range(0, len(rows), BATCH):
                chunk = rows[start : start + BATCH]
                try:
                    with connection.begin_nested():
                        connection.execute(statement, chunk)
                except DBAPIError:
                    # Some row is refused (a NUL character, say): find it, keep the others.
                    for row in chunk:
                        try:
                            with connection.begin_nested():
                                connection.execute(statement, [row])
                        except DBAPIError as error:
                            reason = str(error.orig or error).strip().splitlines()[0]
                            rejected[int(row["node_id"])] = reason
        self.commits += 1
        return rejected

    def clear(self) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(self._table))

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(self._table)).scalar_one()
            )

    def terms_version(self) -> int:
        """The terms version of the rows (the table's comment). An empty table without one is
        current, and is marked so (a new instance, before its first document)."""
        with self._engine.connect() as connection:
            comment = connection.execute(
                text(f"SELECT obj_description('{self._table.name}'::regclass, 'pg_class')")
            ).scalar_one()
            if comment and str(comment).startswith(TERMS_COMMENT):
                return int(str(comment).removeprefix(TERMS_COMMENT))
            empty = connection.execute(select(self._table.c.node_id).limit(1)).first() is None
        if not empty:
            return 0
        self.set_terms_version(TERMS_VERSION)
        return TERMS_VERSION

    def set_terms_version(self, version: int) -> None:
        with self._engine.begin() as connection:
            # A literal: COMMENT takes no parameters; the version is an int.
            connection.execute(
                text(f"COMMENT ON TABLE {self._table.name} IS '{TERMS_COMMENT}{int(version)}'")
            )

    # --- reads --------------------------------------------------------------------------------

    def matches(self, query: SearchQuery, visibility: Visibility, bound: int) -> Matches:
        planned = plan(query, visibility)
        if planned is None:
            return Matches((), complete=True)
        conditions = _conditions(self._table, planned)
        with self._engine.begin() as connection:
            # For this transaction (``SET LOCAL``), in one round trip: no JIT (compiling a large
            # ranking costs more than it saves, tens of milliseconds) and the random page cost.
            connection.execute(
                text("SELECT set_config('jit', 'off', true), set_config(:name, :cost, true)"),
                {"name": "random_page_cost", "cost": str(RANDOM_PAGE_COST)},
            )
            if planned.clauses:
                tsquery = cast(literal(_tsquery(planned.query), Text), postgresql.TSQUERY)
                conditions.append(self._table.c.document.op("@@")(tsquery))
                rows = connection.execute(self._ranked(conditions, tsquery, bound)).all()
                matched = int(rows[0].matched) if rows else 0
                complete = matched < self._max_ranked and matched <= bound
            else:
                most = min(bound, self._max_ranked)
                rows = connection.execute(self._newest(conditions, most + 1)).all()
                complete = len(rows) <= most
                rows = rows[:most]
        return Matches(tuple(int(row.node_id) for row in rows), complete=complete)

    def stored(self, node_ids: Sequence[int]) -> dict[int, StoredText]:
        if not node_ids:
            return {}
        statement = select(self._table.c.node_id, self._table.c.name, self._table.c.text).where(
            self._table.c.node_id == func.any(_int_array(node_ids))
        )
        with self._engine.connect() as connection:
            return {
                int(row.node_id): StoredText(name=row.name, text=row.text)
                for row in connection.execute(statement)
            }

    def _ranked(
        self, conditions: list[ColumnElement[bool]], tsquery: ColumnElement[Any], bound: int
    ) -> Select[Any]:
        """The best ``bound`` among the first ``max_ranked`` visible matches, and how many
        matched (up to ``max_ranked``)."""
        matched = (
            select(self._table.c.node_id, self._table.c.document)
            .where(*conditions)
            .limit(self._max_ranked)
            .subquery("matched")
        )
        score = func.ts_rank(matched.c.document, tsquery, RANK_NORMALISATION)
        return (
            select(matched.c.node_id, func.count().over().label("matched"))
            .order_by(score.desc(), matched.c.node_id.desc())
            .limit(bound)
        )

    def _newest(self, conditions: list[ColumnElement[bool]], most: int) -> Select[Any]:
        """A listing: the newest visible documents (the modified-time index)."""
        return (
            select(self._table.c.node_id)
            .where(*conditions)
            .order_by(self._table.c.modified_at.desc(), self._table.c.node_id.desc())
            .limit(most)
        )


def _upsert_statement(table: Table) -> Any:
    """Insert, or replace the entry of the same node."""
    columns = [column.name for column in table.columns]
    values: dict[str, ColumnElement[Any]] = {
        column: bindparam(column) for column in columns if column != "document"
    }
    values["document"] = cast(bindparam("document", type_=Text), postgresql.TSVECTOR)
    insert = postgresql.insert(table).values(values)
    return insert.on_conflict_do_update(
        index_elements=[table.c.node_id],
        set_={column: insert.excluded[column] for column in columns if column != "node_id"},
    )


def _delete(table: Table, connection: Connection, node_ids: Iterable[int]) -> None:
    ids = sorted(set(node_ids))
    for start in range(0, len(ids), 10_000):
        connection.execute(
            delete(table).where(
                table.c.node_id == func.any(_int_array(ids[start : start + 10_000]))
            )
        )


def _conditions(table: Table, planned: Plan) -> list[ColumnElement[bool]]:
    visible: list[ColumnElement[bool]] = []
    if planned.space_keys:
        space: ColumnElement[Any] = table.c.space_id
        if len(planned.space_keys) > BROAD_VISIBILITY:
            space = space + 0  # not indexable: a filter (see the module docstring)
        visible.append(space == func.any(_int_array(planned.space_keys)))
    if planned.shared_roots:
        visible.append(table.c.ancestors.op("&&")(_int_array(planned.shared_roots)))
    conditions: list[ColumnElement[bool]] = [
        or_(*visible),
        table.c.classification <= planned.max_classification,
    ]
    if planned.space_filter is not None:
        conditions.append(table.c.space_id == func.any(_int_array(planned.space_filter)))
    if planned.classification is not None:
        conditions.append(table.c.classification == planned.classification)
    if planned.content_types is not None:
        conditions.append(table.c.content_type.in_(sorted(planned.content_types)))
    if planned.owner_id is not None:
        conditions.append(table.c.owner_id == planned.owner_id)
    if planned.unit_id is not None:
        conditions.append(table.c.unit_id == planned.unit_id)
    if planned.modified_from is not None:
        conditions.append(table.c.modified_at >= planned.modified_from)
    if planned.modified_to is not None:
        conditions.append(table.c.modified_at < planned.modified_to)
    return conditions


def _int_array(values: Iterable[int]) -> ColumnElement[Any]:
    return cast(literal(sorted(values), postgresql.ARRAY(Integer)), postgresql.ARRAY(Integer))


def _row(document: SearchDocument) -> dict[str, Any]:
    name, body = nfc(document.name), nfc(document.text)
    return {
        "node_id": document.node_id,
        "space_id": document.space_id,
        "ancestors": list(document.ancestors),
        "classification": document.classification,
        "content_type": document.content_type.lower() if document.content_type else None,
        "owner_id": document.owner_id,
        "unit_id": document.unit_id,
        "modified_at": stored_second(document.modified_at),
        "name": name,
        "text": body,
        "document": tsvector_literal(analyse(name), analyse(body)),
        "indexed_at": utcnow(),
    }


def _quote(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _lexemes(words: Sequence[Position | str], start: int) -> Iterable[tuple[int, str]]:
    """``(position, lexeme)``: each word's term and keys at its position."""
    for position, word in enumerate(words, start=start):
        if isinstance(word, str):
            yield position, word
        else:
            yield position, word.term
            for key in word.keys:
                yield position, key


def tsvector_literal(
    name_words: Sequence[Position | str], text_words: Sequence[Position | str]
) -> str:
    """The ``tsvector`` of a document: name words at weight A, then the text (weight D)."""
    positions: dict[str, list[str]] = {}
    size = 0
    for position, word in _lexemes(name_words, 1):
        found = positions.get(word)
        if found is None:
            positions[word] = [f"{min(position, MAX_POSITION)}A"]
            size += len(word) * 4 + 8
        elif len(found) < MAX_POSITIONS_PER_WORD and position <= MAX_POSITION:
            found.append(f"{position}A")
    for position, word in _lexemes(text_words, len(name_words) + 2):
        found = positions.get(word)
        if found is None:
            # A bound on the stored size (4 bytes a character at most, a header, positions).
            size += len(word) * 4 + 8
            if size > MAX_TSVECTOR_BYTES - 2 * MAX_POSITION:
                continue
            positions[word] = [str(min(position, MAX_POSITION))]
        elif len(found) < MAX_POSITIONS_PER_WORD and position <= MAX_POSITION:
            found.append(str(position))
    return " ".join(f"{_quote(word)}:{','.join(at)}" for word, at in positions.items())


def _tsquery(parsed: Parsed) -> str:
    """Every group (its items with ``|``) and no excluded item (``!``)."""
    parts = ["(" + " | ".join(_item(item) for item in group) + ")" for group in parsed.groups]
    parts += ["!" + _item(item) for item in parsed.excluded]
    return " & ".join(parts)


def _item(item: Item) -> str:
    return "(" + " & ".join(_clause(clause) for clause in item) + ")"


def _clause(clause: Clause) -> str:
    """Its words (a phrase with ``<->``, a prefix with ``:*``) or any of its keys."""
    words = [_quote(word) for word in clause.words]
    if clause.prefix:
        words[-1] += ":*"
    either = ["(" + " <-> ".join(words) + ")" if clause.is_phrase else words[0]]
    either += [_quote(key) for key in (*clause.keys, *clause.loose)]
    return "(" + " | ".join(either) + ")"
