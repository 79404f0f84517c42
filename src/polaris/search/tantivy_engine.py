"""The embedded engine: a Tantivy index in a directory of the instance (``DATA_DIR/search``).

Writers. Several processes write (web workers, job workers, the CLI), and Tantivy allows one
``IndexWriter`` per index at a time (a second fails with ``LockBusy``). Every write therefore
queues on a lock first: a thread lock for the threads of this process and an ``flock`` on
``writer.lock`` in the directory for the processes (:class:`polaris.db.engine.WriterGate`, the
same gate SQLite's writers use). Holding it, a write opens a writer, applies one batch, commits and
waits for the merges it started, then lets go: one commit per batch, and a writer held no longer
than its batch. A failed batch rolls back, leaving the index as the last commit left it.

Readers reload before each search, which costs tens of microseconds when nothing changed (Tantivy
compares the segment list in ``meta.json``), so a search sees every batch committed before it, by
any process. Files of merged segments are deleted by the writer; another process still reading
them keeps them open (POSIX unlink semantics), so readers never break.

Tokeniser. Python cuts and folds the words (:func:`polaris.search.keys.analyse`, the rule the
PostgreSQL engine and the query use) and hands Tantivy the terms separated by spaces, which its
whitespace tokenizer splits back, position by position; each word's keys go to ``name_keys`` /
``text_keys`` (no positions). The original NFC name and text are stored apart, for highlights.

Ranking. Not BM25: its IDF and average field length are taken over every document in the index,
hidden ones too, so a user's own hits scored and even ranked differently after another station
added documents with the same words (25 hidden documents took a score from 3.914 to 0.912, and
the ratio gives their number). A hit scores, for each clause, :data:`NAME_BOOST` if the clause
matched in its name and 1 if in its text: a sum of the document's own facts. Equal scores go
newest node first (highest id), so the order of a user's hits depends on those hits alone. What
that costs: how often a word occurs in a text, and how long the text is, no longer count.

Format (``FORMAT_VERSION`` in ``polaris-search.json`` beside the index, with the ``terms``
version of :mod:`polaris.search.text` it was built with):
1. node id, space, ancestors, classification, owner, unit, content type, modified time (seconds),
   name and text (tokenised), original name and text (stored).
2. name and text as folded terms (whitespace-separated, from Python), ``name_keys`` and
   ``text_keys``. An index of format 1 is emptied on open (it is derived data) and marked as
   needing a rebuild; ``polaris.search.indexing.ensure_current`` queues it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tantivy

from polaris.db.engine import WriterGate
from polaris.search.interface import (
    Matches,
    Rejected,
    SearchDocument,
    SearchQuery,
    StoredText,
    Visibility,
)
from polaris.search.keys import analyse
from polaris.search.query import Clause, Item, Plan, plan, stored_second
from polaris.search.text import TERMS_VERSION, TOKEN_BYTES_LIMIT, nfc

FORMAT_VERSION = 2
#: Formats this one replaces by emptying the index (a rebuild fills it again).
OLD_FORMATS = frozenset({1})
FORMAT_FILE = "polaris-search.json"
TOKENIZER = "polaris_words"
#: A clause matched in the name counts this much; in the text, 1 (in both, the sum).
NAME_BOOST = 2.0
#: A Roman word's phonetic key (consonants; consonants and vowels) counts this much, each.
LOOSE_WEIGHT = 0.25
#: How long a write waits for the writers before it (jobs retry after a failure).
LOCK_TIMEOUT_SECONDS = 120.0


class SearchIndexError(RuntimeError):
    """The index cannot be used as it is (another format, a lock not obtained)."""


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("node_id", stored=True, indexed=True, fast=True)
    builder.add_unsigned_field("space_id", indexed=True, fast=True)
    builder.add_unsigned_field("ancestors", indexed=True)
    builder.add_unsigned_field("classification", indexed=True, fast=True)
    builder.add_unsigned_field("owner_id", indexed=True)
    builder.add_unsigned_field("unit_id", indexed=True)
    builder.add_text_field("content_type", tokenizer_name="raw", index_option="basic")
    builder.add_date_field("modified_at", indexed=True, fast=True)
    builder.add_text_field("name", tokenizer_name=TOKENIZER)
    builder.add_text_field("text", tokenizer_name=TOKENIZER)
    builder.add_text_field("name_keys", tokenizer_name=TOKENIZER, index_option="basic")
    builder.add_text_field("text_keys", tokenizer_name=TOKENIZER, index_option="basic")
    builder.add_bytes_field("name_stored", stored=True)
    builder.add_bytes_field("text_stored", stored=True)
    return builder.build()


def analyzer() -> tantivy.TextAnalyzer:
    """Tantivy's side: the terms Python made, split at the spaces between them."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
        .filter(tantivy.Filter.remove_long(TOKEN_BYTES_LIMIT))
        .build()
    )


class TantivySearchEngine:
    """Full-text search over a Tantivy index in ``path`` (made on first use)."""

    def __init__(self, path: Path, *, writer_heap_bytes: int = 64_000_000) -> None:
        self.path = path
        self._heap = writer_heap_bytes
        path.mkdir(parents=True, exist_ok=True)
        self._gate = WriterGate(path / "writer.lock")
        #: Commits made through this object (for tests and benchmarks: one a batch).
        self.commits = 0
        self._schema = _schema()
        with self._locked():
            self._check_format()
            self._index = tantivy.Index(self._schema, path=str(path), reuse=True)
        self._index.register_tokenizer(TOKENIZER, analyzer())

    # --- writes -------------------------------------------------------------------------------

    def upsert(self, documents: Sequence[SearchDocument]) -> None:
        latest = {document.node_id: document for document in documents}  # the last one wins

        def work(writer: tantivy.IndexWriter) -> None:
            # Deletes apply to what was added before them: old versions go, the new ones stay.
            writer.delete_documents_by_query(self._any("node_id", latest))
            for document in latest.values():
                writer.add_document(self._document(document))

        if latest:
            self._write(work)

    def delete(self, node_ids: Sequence[int]) -> None:
        # By query: ``delete_documents_by_term`` makes a signed term for a Python int, which
        # matches nothing in an unsigned field.
        if node_ids:
            self._write(
                lambda writer: writer.delete_documents_by_query(self._any("node_id", node_ids))
            )

    def write(self, documents: Sequence[SearchDocument], removed: Sequence[int]) -> Rejected:
        latest = {document.node_id: document for document in documents}
        rejected: Rejected = {}
        added: list[tantivy.Document] = []
        for node_id, document in latest.items():
            try:
                added.append(self._document(document))
            except (ValueError, TypeError, OverflowError) as error:
                rejected[node_id] = f"{type(error).__name__}: {error}"
        # Deletes apply to what was added before them: old versions go, the new ones stay.
        ids = sorted(latest.keys() - rejected.keys() | set(removed) - latest.keys())

        def work(writer: tantivy.IndexWriter) -> None:
            writer.delete_documents_by_query(self._any("node_id", ids))
            for document in added:
                writer.add_document(document)

        if ids:
            self._write(work)
        return rejected

    def clear(self) -> None:
        self._write(lambda writer: writer.delete_all_documents())

    def count(self) -> int:
        self._index.reload()
        return self._index.searcher().num_docs

    def _document(self, document: SearchDocument) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_unsigned("node_id", document.node_id)
        doc.add_unsigned("space_id", document.space_id)
        for ancestor in document.ancestors:
            doc.add_unsigned("ancestors", ancestor)
        doc.add_unsigned("classification", document.classification)
        if document.owner_id is not None:
            doc.add_unsigned("owner_id", document.owner_id)
        if document.unit_id is not None:
            doc.add_unsigned("unit_id", document.unit_id)
        if document.content_type:
            doc.add_text("content_type", document.content_type.lower())
        doc.add_date("modified_at", stored_second(document.modified_at))
        name, text = nfc(document.name), nfc(document.text)
        for field, value in (("name", name), ("text", text)):
            positions = analyse(value)
            doc.add_text(field, " ".join(position.term for position in positions))
            doc.add_text(
                field + "_keys", " ".join(key for position in positions for key in position.keys)
            )
        doc.add_bytes("name_stored", name.encode())
        doc.add_bytes("text_stored", text.encode())
        return doc

    def _write(self, work: Callable[[tantivy.IndexWriter], object]) -> None:
        with self._locked():
            writer = self._index.writer(heap_size=self._heap, num_threads=1)
            try:
                work(writer)
                writer.commit()
                self.commits += 1
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()
        self._index.reload()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if not self._gate.acquire(timeout=LOCK_TIMEOUT_SECONDS):
            raise SearchIndexError("the search index is busy; try again")
        try:
            yield
        finally:
            self._gate.release()

    def terms_version(self) -> int:
        """The terms version the index was built with (0: it needs a rebuild)."""
        with self._locked():
            return int(json.loads((self.path / FORMAT_FILE).read_text()).get("terms", 0))

    def set_terms_version(self, version: int) -> None:
        with self._locked():
            self._mark(version)

    def _mark(self, terms: int) -> None:
        marker = self.path / FORMAT_FILE
        marker.write_text(json.dumps({"format": FORMAT_VERSION, "terms": terms}))

    def _check_format(self) -> None:
        marker = self.path / FORMAT_FILE
        if marker.exists():
            found = json.loads(marker.read_text()).get("format")
            if found in OLD_FORMATS:
                self._empty()
                self._mark(0)
            elif found != FORMAT_VERSION:
                raise SearchIndexError(
                    f"the search index in {self.path} has format {found}, this Polaris reads "
                    f"{FORMAT_VERSION}: remove the directory and reindex"
                )
        elif tantivy.Index.exists(str(self.path)):
            raise SearchIndexError(f"{self.path} holds an index that is not Polaris's")
        else:
            self._mark(TERMS_VERSION)  # a new index is built with today's terms

    def _empty(self) -> None:
        """Remove an old format's files (all but the lock and the marker)."""
        for entry in self.path.iterdir():
            if entry.name in {"writer.lock", FORMAT_FILE}:
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    # --- reads --------------------------------------------------------------------------------

    def matches(self, query: SearchQuery, visibility: Visibility, bound: int) -> Matches:
        planned = plan(query, visibility)
        if planned is None:
            return Matches((), complete=True)
        self._index.reload()
        searcher = self._index.searcher()
        tantivy_query = self._query(planned)
        if not planned.clauses:
            result = searcher.search(
                tantivy_query,
                bound,
                count=True,
                order_by_field="modified_at",
                order=tantivy.Order.Desc,
            )
            return Matches(self._ranked(searcher, result.hits, bound), _count(result) <= bound)
        # No count here: fewer hits than the bound are all of them; a full page of hits is
        # counted by the second pass, which must look at every match anyway.
        hits = list(searcher.search(tantivy_query, bound, count=False).hits)
        if len(hits) < bound:
            return Matches(self._ranked(searcher, hits, bound), complete=True)
        newest, matched = self._newest_scored(searcher, tantivy_query, bound)
        return Matches(self._ranked(searcher, hits + newest, bound), complete=matched <= bound)

    def _newest_scored(
        self, searcher: tantivy.Searcher, query: tantivy.Query, bound: int
    ) -> tuple[list[tuple[Any, tantivy.DocAddress]], int]:
        """The newest ``bound`` matches, with their scores, and how many matched in all.

        Past ``bound`` matches, Tantivy's top-k breaks ties at the cut by segment order, which
        depends on every document written (hidden ones too) and is not "newest first". Scores
        take few values here (see Ranking), so ties are the rule: the newest matches, added to
        the candidates, fill the last score level at the cut with the newest documents.

        The newest ``bound`` matches are exactly the matches from the ``bound``-th newest node id
        up, so they are scored again by that range of ``node_id`` (a range of one fast field,
        where a set of 1,100 ids cost a term automaton: 33 ms of a station's 49).
        """
        newest = searcher.search(
            query, bound, count=True, order_by_field="node_id", order=tantivy.Order.Desc
        )
        ids = [int(key or 0) for key, _ in newest.hits]
        if not ids:
            return [], 0
        since = tantivy.Query.const_score_query(self._range("node_id", min(ids), 2**64 - 1), 0.0)
        both = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, query), (tantivy.Occur.Must, since)]
        )
        return list(searcher.search(both, len(ids), count=False).hits), _count(newest)

    @staticmethod
    def _ranked(
        searcher: tantivy.Searcher, hits: Sequence[tuple[Any, tantivy.DocAddress]], bound: int
    ) -> tuple[int, ...]:
        """Node ids by key (score, or time when listing) and then newest node, at most ``bound``."""
        keys = [float(key or 0) for key, _ in hits]
        addresses = [address for _, address in hits]
        node_ids = [int(n or 0) for n in searcher.fast_field_values("node_id", addresses)]
        ranked = sorted(set(zip(keys, node_ids, strict=True)), key=lambda hit: (-hit[0], -hit[1]))
        return tuple(node_id for _, node_id in ranked[:bound])

    def stored(self, node_ids: Sequence[int]) -> dict[int, StoredText]:
        if not node_ids:
            return {}
        self._index.reload()
        searcher = self._index.searcher()
        result = searcher.search(self._any("node_id", node_ids), len(node_ids), count=False)
        texts = {}
        for _, address in result.hits:
            stored = searcher.doc(address)
            texts[int(stored.get_first("node_id") or 0)] = StoredText(
                name=bytes(stored.get_first("name_stored") or b"").decode(),
                text=bytes(stored.get_first("text_stored") or b"").decode(),
            )
        return texts

    def _query(self, planned: Plan) -> tantivy.Query:
        schema = self._schema
        must: list[tantivy.Query] = [
            self._any_of([self._item(item) for item in group]) for group in planned.query.groups
        ]
        if not must:
            must.append(tantivy.Query.all_query())
        excluded = [self._item(item) for item in planned.query.excluded]
        filters = [self._visible(planned)]
        filters.append(self._range("classification", 0, planned.max_classification))
        if planned.space_filter is not None:
            filters.append(self._any("space_id", planned.space_filter))
        if planned.classification is not None:
            filters.append(self._term("classification", planned.classification))
        if planned.content_types is not None:
            filters.append(self._any("content_type", planned.content_types))
        if planned.owner_id is not None:
            filters.append(self._term("owner_id", planned.owner_id))
        if planned.unit_id is not None:
            filters.append(self._term("unit_id", planned.unit_id))
        if planned.modified_from is not None or planned.modified_to is not None:
            filters.append(
                tantivy.Query.range_query(
                    schema,
                    "modified_at",
                    tantivy.FieldType.Date,
                    planned.modified_from or tantivy.MIN_DATETIME,
                    planned.modified_to or tantivy.MAX_DATETIME,
                    include_upper=planned.modified_to is None,
                )
            )
        # Filters decide what may match; they add nothing to the score.
        subqueries = [(tantivy.Occur.Must, query) for query in must]
        subqueries += [
            (tantivy.Occur.Must, tantivy.Query.const_score_query(query, 0.0)) for query in filters
        ]
        subqueries += [(tantivy.Occur.MustNot, query) for query in excluded]
        return tantivy.Query.boolean_query(subqueries)

    def _visible(self, planned: Plan) -> tantivy.Query:
        """Authorisation: in a space read wholly, or below a node shared with the user."""
        either = []
        if planned.space_keys:
            either.append(self._any("space_id", planned.space_keys))
        if planned.shared_roots:
            either.append(self._any("ancestors", planned.shared_roots))
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, query) for query in either])

    @staticmethod
    def _any_of(queries: list[tantivy.Query]) -> tantivy.Query:
        if len(queries) == 1:
            return queries[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, query) for query in queries])

    def _item(self, item: Item) -> tantivy.Query:
        """All clauses of a chunk (most chunks are one clause)."""
        if len(item) == 1:
            return self._clause(item[0])
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, self._clause(clause)) for clause in item]
        )

    def _clause(self, clause: Clause) -> tantivy.Query:
        """The clause in the name or in the text, scored by where it matched only (see Ranking):
        its words or a key as much, a phonetic key :data:`LOOSE_WEIGHT` each."""
        parts = [
            (self._words("name", clause), NAME_BOOST),
            (self._words("text", clause), 1.0),
        ]
        if clause.keys:
            parts += [
                (self._any("name_keys", clause.keys), NAME_BOOST),
                (self._any("text_keys", clause.keys), 1.0),
            ]
        for key in clause.loose:
            parts += [
                (self._text_term("name_keys", key), NAME_BOOST * LOOSE_WEIGHT),
                (self._text_term("text_keys", key), LOOSE_WEIGHT),
            ]
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.const_score_query(query, weight))
                for query, weight in parts
            ]
        )

    def _text_term(self, field: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, field, value)

    def _words(self, field: str, clause: Clause) -> tantivy.Query:
        schema = self._schema
        # Terms hold letters, marks and digits only: no regex metacharacter needs escaping.
        if not clause.is_phrase:
            word = clause.words[0]
            if clause.prefix:
                return tantivy.Query.regex_query(schema, field, word + ".*")
            return tantivy.Query.term_query(schema, field, word)
        if clause.prefix:
            words = [*clause.words[:-1], clause.words[-1] + ".*"]
            return tantivy.Query.regex_phrase_query(schema, field, list(words))
        return tantivy.Query.phrase_query(schema, field, list(clause.words))

    def _term(self, field: str, value: int) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, field, value)

    def _any(self, field: str, values: Iterable[object]) -> tantivy.Query:
        return tantivy.Query.term_set_query(self._schema, field, list(values))

    def _range(self, field: str, low: int, high: int) -> tantivy.Query:
        return tantivy.Query.range_query(self._schema, field, tantivy.FieldType.Unsigned, low, high)


def _count(result: tantivy.SearchResult) -> int:
    """Matches in all (``count`` is there when asked for, though the stub leaves it out)."""
    return int(getattr(result, "count", 0) or 0)
