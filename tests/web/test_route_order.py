"""The Matrix API's routers are matched first (``polaris.app``: matching walks the routes in
order, and a Matrix client's ``/sync`` and sends are the busiest requests); that is safe only
while they answer nothing but Matrix paths and no other route answers one, checked here."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

MATRIX_PATHS = ("/_matrix/", "/.well-known/matrix/")


def _paths(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    for route in routes:
        if isinstance(route, _IncludedRouter):
            inner = prefix + route.include_context.prefix
            yield from _paths(route.original_router.routes, inner)
        else:
            yield prefix + str(getattr(route, "path", ""))


def test_the_matrix_routes_come_first_and_no_other_route_takes_a_matrix_path(
    client: TestClient,
) -> None:
    paths = list(_paths(client.app.router.routes))  # type: ignore[attr-defined]
    matrix = [n for n, p in enumerate(paths) if p.startswith(MATRIX_PATHS)]
    assert paths.index("/_matrix/client/v3/sync") < 100, "the Matrix routers are not first"
    first, last = matrix[0], matrix[-1]
    assert matrix == list(range(first, last + 1)), "a Matrix route outside the Matrix block"
    assert paths[last] == "/_matrix/{rest:path}", "the fallback is not the block's last"
    for path in paths[:first] + paths[last + 1 :]:
        assert not path.startswith(MATRIX_PATHS), path
        # A parameter in the first segment could match a Matrix path.
        assert not path.lstrip("/").startswith("{"), path
