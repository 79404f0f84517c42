"""Full-text search: one interface (:mod:`polaris.search.interface`), two engines.

Tantivy (embedded, the default) and PostgreSQL full-text search (state scale) pass one shared
test-suite. Both tokenise with :mod:`polaris.search.text`, parse queries with
:mod:`polaris.search.query`, highlight with :mod:`polaris.search.highlight`, and apply the
caller's :class:`~polaris.search.interface.Visibility` inside the query. See ``docs/search.md``.
"""
