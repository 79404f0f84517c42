"""A quick "not mine" for each included router, so that matching a request does not walk every
route of every router before it.

FastAPI (0.137 on) keeps each ``include_router`` as one route object and matches a request by
asking each in turn, and each asks every route it holds, at a few microseconds a route: with the
app's ~280 routes a request for a late one paid 100 to 600 µs of matching (``/sync`` 184 µs,
``/api/v1/search`` 331 µs, a page more) before any of its own work, on the event loop.
(FastAPI's pull request 16159 skips a router whose *prefix* cannot match; most of ours have
none, the Matrix routers included.)

:func:`guard` gives each top-level included router the literal start of every path it serves
(up to the first ``{``) and a ``matches`` that answers "no match" at once for a path starting
with none of them, before FastAPI's own. Only a router that could not match is skipped, so the
answer (which route, a 405, a redirect to the path with or without the slash, the fallback) is
FastAPI's as before: ``tests/web/test_route_guard.py`` compares every route and method with and
without the guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import Scope

Matcher = Callable[[Scope], tuple[Match, Scope]]


def literal_starts(route: Any) -> tuple[str, ...] | None:
    """The literal start (before the first parameter) of every path the included router
    ``route`` serves; None when one has none (a path that starts with a parameter could match
    anything) or the object is not an included router."""
    contexts = getattr(route, "effective_route_contexts", None)
    if contexts is None:
        return None
    starts: set[str] = set()
    for context in contexts():
        # An API route's context has its full path; a plain Starlette route's (or a mount's)
        # is on the route FastAPI made for it.
        made = getattr(context, "starlette_route", None)
        path = str(getattr(context, "path", "") or getattr(made, "path", "") or "")
        literal = path.split("{", 1)[0]
        if not literal or literal == "/":
            return None
        starts.add(literal)
    return tuple(sorted(starts)) if starts else None


def _route_path(scope: Scope) -> str:
    """The path routes are matched against: the request's, without the app's root path."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def guarded(matches: Matcher, starts: tuple[str, ...]) -> Matcher:
    def quick(scope: Scope) -> tuple[Match, Scope]:
        if not _route_path(scope).startswith(starts):
            return Match.NONE, {}
        return matches(scope)

    quick.__wrapped__ = matches  # type: ignore[attr-defined]
    return quick


def guard(app: FastAPI) -> int:
    """Install the quick refusal on each of ``app``'s included routers and on the routers
    included in those; how many were guarded. Call it after the last route is added: a route
    added to an included router later would be refused by the starts read now, until ``guard``
    is called again (it reads them afresh)."""
    return _guard_all(app.router.routes)


def _guard_all(routes: Iterable[Any]) -> int:
    count = 0
    for route in routes:
        nested = getattr(route, "effective_candidates", None)
        if nested is None:
            continue
        count += _guard_all(nested())
        if "matches" in vars(route):  # guarded before: read the starts afresh
            del route.matches
        starts = literal_starts(route)
        if starts is None:
            continue
        # An attribute of the instance: FastAPI calls ``route.matches(scope)``.
        setattr(route, "matches", guarded(route.matches, starts))  # noqa: B010
        count += 1
    return count
