"""Roman-script queries against Devanagari words: recall, first result and precision.

    PYTHONPATH=src .venv/bin/python bench/roman_search.py

The word list (``tests/search/data/roman_words.txt``) gives Roman spellings officers type for
Hindi police words; ``hindi_vocabulary.txt`` adds everyday words that a query must not find. Every
word (police and everyday) is one document in a fresh Tantivy index, through the engine's own
``upsert`` and ``search_page``, and each spelling is searched:

- *recall*: the police word is among the hits;
- *first*: it is the first hit (ties at the top are broken newest first by the engine, so a tie
  counts only when the word is alone at the top score: ``first, alone``);
- *precision*: hits that are the police word, over all hits (mean over the queries);
- *hits*: mean number of documents a query finds.

Beside the engine, the key methods alone, over the same words: the full key only (consonants and
vowel classes must both agree), the consonant key (what the engine matches), and the consonant
key within one edit (not built: what it would add).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from polaris.search import roman
from polaris.search.interface import SearchDocument, SearchQuery, Visibility
from polaris.search.paging import search_page
from polaris.search.tantivy_engine import TantivySearchEngine

DATA = Path(__file__).resolve().parent.parent / "tests" / "search" / "data"
EVERYONE = Visibility(frozenset({1}), frozenset(), max_classification=3)


def load() -> tuple[dict[str, list[str]], list[str]]:
    """Spellings by police word, and the vocabulary (police words first, then everyday ones)."""
    spellings: dict[str, list[str]] = {}
    for line in (DATA / "roman_words.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            hindi, roman_spellings = line.split("\t")
            spellings[hindi] = list(dict.fromkeys(roman_spellings.split()))
    vocabulary = list(spellings)
    for line in (DATA / "hindi_vocabulary.txt").read_text().splitlines():
        if not line.startswith("#"):
            vocabulary += [word for word in line.split() if word not in vocabulary]
    return spellings, vocabulary


@dataclass
class Tally:
    queries: int = 0
    found: int = 0
    first: int = 0
    alone: int = 0
    precision: float = 0.0
    hits: int = 0
    missed: list[str] = field(default_factory=list)

    def add(self, target: str, ranked: list[list[str]], spelling: str) -> None:
        """``ranked``: the hits in score groups, best group first."""
        everything = [word for group in ranked for word in group]
        self.queries += 1
        self.hits += len(everything)
        if target in everything:
            self.found += 1
            self.precision += everything.count(target) / len(everything)
            if everything[0] == target:
                self.first += 1
            if ranked[0] == [target]:
                self.alone += 1
        else:
            self.missed.append(f"{spelling}→{target}")

    def row(self, name: str) -> str:
        n = self.queries
        return (
            f"| {name} | {self.found / n:.0%} | {self.first / n:.0%} | {self.alone / n:.0%} | "
            f"{self.precision / n:.0%} | {self.hits / n:.1f} |"
        )


def _distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def by_keys(
    spelling: str, vocabulary: list[str], *, full_only: bool = False, edits: int = 0
) -> list[list[str]]:
    """Key matching alone: score 2 for a loanword or full key, 1 for the consonant key."""
    scores: dict[str, int] = {}
    english = roman.loanword(spelling)
    query = roman.roman_key(spelling)
    for word in vocabulary:
        if english is not None and roman.loanword(word) == english:
            scores[word] = 3
            continue
        if query is None or english is not None or len(query[0]) < roman.MIN_CONSONANTS:
            continue
        for consonants, vowels in roman.devanagari_keys(word):
            if full_only and (consonants, vowels) != query:
                continue
            if _distance(consonants, query[0]) <= edits:
                score = 2 if vowels == query[1] else 1
                scores[word] = max(scores.get(word, 0), score - (consonants != query[0]))
    groups: dict[int, list[str]] = {}
    for word, score in scores.items():
        groups.setdefault(score, []).append(word)
    return [groups[score] for score in sorted(groups, reverse=True)]


def by_engine(engine: TantivySearchEngine, spelling: str, words: dict[int, str]) -> list[list[str]]:
    """The engine's hits, in groups of equal rank as far as the engine tells them apart.

    The engine hands over no scores, so a group is recomputed from the key methods' scores of
    the hits, in the engine's order.
    """
    page = search_page(engine, SearchQuery(text=spelling, limit=100), EVERYONE)
    found = [words[hit.node_id] for hit in page.hits]
    scores = {
        word: 3 - index for index, group in enumerate(by_keys(spelling, found)) for word in group
    }
    groups: list[list[str]] = []
    last = None
    for word in found:
        score = scores.get(word, 0)
        if score != last:
            groups.append([])
            last = score
        groups[-1].append(word)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    spellings, vocabulary = load()
    words = {node_id: word for node_id, word in enumerate(vocabulary, start=1)}
    tallies = {
        "full key only (consonants and vowels)": Tally(),
        "consonant key, ranked by vowel key": Tally(),
        "consonant key within 1 edit (not built)": Tally(),
        "Tantivy engine (`search_page`)": Tally(),
    }
    with tempfile.TemporaryDirectory() as directory:
        engine = TantivySearchEngine(Path(directory))
        moment = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
        engine.upsert(
            [
                SearchDocument(
                    node_id=node_id,
                    space_id=1,
                    ancestors=(1, node_id),
                    name=f"d{node_id}",
                    text=word,
                    content_type="text/plain",
                    classification=0,
                    owner_id=None,
                    unit_id=None,
                    modified_at=moment,
                )
                for node_id, word in words.items()
            ]
        )
        for hindi, romans in spellings.items():
            target = hindi
            for spelling in romans:
                keys = list(tallies.values())
                keys[0].add(target, by_keys(spelling, vocabulary, full_only=True), spelling)
                keys[1].add(target, by_keys(spelling, vocabulary), spelling)
                keys[2].add(target, by_keys(spelling, vocabulary, edits=1), spelling)
                keys[3].add(target, by_engine(engine, spelling, words), spelling)
    total = sum(len(romans) for romans in spellings.values())
    print(
        f"{total} Roman spellings of {len(spellings)} Hindi police words; "
        f"{len(vocabulary)} words indexed ({len(vocabulary) - len(spellings)} everyday words)\n"
    )
    print("| method | recall | first | first, alone | precision | hits a query |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, tally in tallies.items():
        print(tally.row(name))
    print("\nmissed by the engine:", ", ".join(tallies["Tantivy engine (`search_page`)"].missed))


if __name__ == "__main__":
    main()
