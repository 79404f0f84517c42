"""``web.route_guard``: every request finds the same route with the guard as without it (the
guard only skips included routers that cannot serve the path), and a late route is not reached
through every router before it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from starlette.routing import Match

from polaris.web import route_guard

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "MOVE")
#: Paths no route serves, or served only through a redirect or a fallback.
EXTRA = (
    "/",
    "/nope",
    "/api",
    "/api/v1",
    "/api/v1/",
    "/api/v1/nodes/",
    "/_matrix",
    "/_matrix/",
    "/_matrix/client/v3/nope",
    "/_matrix/client/versions/",
    "/.well-known/matrix/client/",
    "/static/app.css",
    "/dav",
    "/remote.php/dav/files/x/a",
    "/status.php",
    "/ocs/v2.php/cloud/capabilities",
)


def _concrete(path: str) -> str:
    """A request path for a route's path: each parameter given a plausible value."""
    path = re.sub(r"\{[^}]*:path\}", "a/b", path)
    return re.sub(r"\{[^}]*\}", "7", path)


def _route_paths(routes: list[Any]) -> Iterator[str]:
    for route in routes:
        if isinstance(route, _IncludedRouter):
            for context in route.effective_route_contexts():
                made = context.starlette_route
                yield str(context.path or getattr(made, "path", ""))
        elif getattr(route, "path", None):
            yield str(route.path)


def _selected(app: FastAPI, path: str, method: str) -> tuple[str, int | None, object]:
    """What the app's router would run: the first full match (else the first partial one),
    the top-level route's position and, inside an included router, the route it selects."""
    scope: dict[str, Any] = {
        "type": "http", "path": path, "root_path": "", "method": method, "headers": [],
        "query_string": b"", "app": app,
    }  # fmt: skip
    partial: tuple[str, int | None, object] | None = None
    for index, route in enumerate(app.router.routes):
        match, _ = route.matches(dict(scope))
        if match == Match.NONE:
            continue
        inner: object = route
        if isinstance(route, _IncludedRouter):
            _, _, inner, _ = route._match(dict(scope))
        found = (match.name, index, inner)
        if match == Match.FULL:
            return found
        partial = partial or found
    return partial or ("NONE", None, None)


def _unguard(routes: list[Any]) -> None:
    for route in routes:
        if "matches" in vars(route):
            del route.matches  # the class's own again
        nested = getattr(route, "effective_candidates", None)
        if nested is not None:
            _unguard(nested())


def test_every_route_and_method_is_selected_as_without_the_guard(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    paths = sorted({_concrete(p) for p in _route_paths(app.router.routes)} | set(EXTRA))
    paths += [p + "/" for p in paths if not p.endswith("/")]  # the redirect's other form
    assert len(paths) > 300
    guarded = {(p, m): _selected(app, p, m) for p in paths for m in METHODS}
    try:
        _unguard(app.router.routes)
        plain = {(p, m): _selected(app, p, m) for p in paths for m in METHODS}
    finally:
        assert route_guard.guard(app) > 30
    differ = [(key, guarded[key], plain[key]) for key in plain if guarded[key] != plain[key]]
    assert not differ, differ[:5]
    assert guarded[("/_matrix/client/v3/sync", "GET")][0] == "FULL"


def test_a_router_that_cannot_serve_the_path_is_not_asked(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    asked: list[int] = []
    for index, route in enumerate(app.router.routes):
        wrapped = getattr(route.matches, "__wrapped__", None)
        if wrapped is None:
            continue

        def spy(scope: Any, _inner: Any = wrapped, _index: int = index) -> Any:
            asked.append(_index)
            return _inner(scope)

        starts = route_guard.literal_starts(route) or ("",)
        setattr(route, "matches", route_guard.guarded(spy, starts))  # noqa: B010
    try:
        response = client.get("/_matrix/client/versions")
        assert response.status_code == 200
        # Only routers with a Matrix path were asked (at most the Matrix block), not the drive's.
        assert asked and all(
            any(s.startswith(("/_matrix", "/.well-known/matrix")) for s in
                route_guard.literal_starts(app.router.routes[i]) or ())
            for i in asked
        ), asked  # fmt: skip
    finally:
        _unguard(app.router.routes)
        route_guard.guard(app)


def test_a_route_added_after_the_guard_is_found_once_guarded_again() -> None:
    """The contract (``route_guard.guard``): the starts are read when it runs, so the app guards
    after its last route; a route added later under a new start waits for ``guard`` again."""
    app = FastAPI()
    router = APIRouter()

    @router.get("/reports/{report_id}")
    def report(report_id: int) -> dict[str, int]:
        return {"report": report_id}

    app.include_router(router, prefix="/api")
    assert route_guard.guard(app) == 1
    with TestClient(app) as plain:
        assert plain.get("/api/reports/7").json() == {"report": 7}
        router.add_api_route("/circulars", lambda: {"circulars": []}, methods=["GET"])
        assert plain.get("/api/circulars").status_code == 404  # the starts read before
        assert route_guard.guard(app) == 1  # read afresh
        assert plain.get("/api/circulars").json() == {"circulars": []}
        assert plain.get("/api/reports/8").json() == {"report": 8}
        assert plain.get("/elsewhere").status_code == 404
