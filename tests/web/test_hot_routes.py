"""``web.hot_routes``: a hot route is called straight from the middleware for the requests it
matches fully, with the app's exception handlers; everything else goes on to the app. In the
real app the hot Matrix routes answer as the router's own routes do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from polaris.app import create_app
from polaris.instance import Instance
from polaris.matrix import routing
from polaris.web.hot_routes import HotRoutes


class Teapot(Exception):
    pass


async def hot(request: Request) -> Response:
    if request.path_params["name"] == "teapot":
        raise Teapot
    if request.path_params["name"] == "broken":
        raise RuntimeError("no handler takes this")
    return PlainTextResponse(f"hot {request.path_params['name']}")


async def teapot(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("handled", status_code=418)


async def everything(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("the server-error layer's", status_code=500)


@pytest.fixture
def client() -> Iterator[tuple[TestClient, list[str]]]:
    reached: list[str] = []

    async def inner(request: Request) -> Response:
        reached.append(f"{request.method} {request.url.path}")
        return PlainTextResponse("router")

    app = Starlette(routes=[Route("/{path:path}", inner, methods=["GET", "POST"])])
    app.add_middleware(
        HotRoutes,
        routes=[Route("/hot/{name}", hot, methods=["GET"])],
        handlers={Teapot: teapot, Exception: everything, 500: everything},
        prefix="/hot/",
    )
    with TestClient(app) as test_client:
        yield test_client, reached


def test_a_request_a_hot_route_matches_fully_goes_to_it_with_its_path_parameters(
    client: tuple[TestClient, list[str]],
) -> None:
    test_client, reached = client
    assert test_client.get("/hot/एक").text == "hot एक"
    assert reached == []


def test_anything_else_goes_on_to_the_app(client: tuple[TestClient, list[str]]) -> None:
    test_client, reached = client
    assert test_client.post("/hot/x").text == "router"  # the method does not match
    assert test_client.get("/hot/x/y").text == "router"  # the path does not
    assert test_client.get("/cold/x").text == "router"  # outside the prefix
    assert reached == ["POST /hot/x", "GET /hot/x/y", "GET /cold/x"]


def test_errors_go_through_the_apps_handlers_but_the_server_errors_go_on_up(
    client: tuple[TestClient, list[str]],
) -> None:
    test_client, _ = client
    refused = test_client.get("/hot/teapot")
    assert (refused.status_code, refused.text) == (418, "handled")
    with pytest.raises(RuntimeError, match="no handler takes this"):
        test_client.get("/hot/broken")  # past the hot layer, to the server-error layer


def _without_hot_routes(app: FastAPI) -> FastAPI:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HotRoutes]
    return app


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("GET", "/_matrix/client/v3/sync", {}, None),
        ("GET", "/_matrix/client/r0/sync?timeout=x", {}, None),
        ("GET", "/_matrix/client/v3/sync?since=%FF", {}, None),
        ("PUT", "/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1", {}, b"{}"),
        (
            "PUT",
            "/_matrix/client/r0/rooms/!r:x/send/m.room.message/t1",
            {"Authorization": "Bearer forged"},
            b"not json",
        ),
        ("POST", "/_matrix/client/v3/sync", {}, None),  # not a hot method: the router's 405
    ],
)
def test_the_hot_matrix_routes_answer_as_the_routers_own(
    seeded: Instance, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> None:
    """(A ``/sync`` with a forged token is refused in the syncs' thread lane, which cannot share
    this harness's one connection with the test: ``tests/matrix/test_errors.py`` checks it
    against a served instance, through the hot route.)"""
    assert len(routing.HOT_ROUTES) == 4  # /sync and the send, under both prefixes
    answers = []
    for app in (
        create_app(seeded, seal_periodically=False, run_jobs=False),
        _without_hot_routes(create_app(seeded, seal_periodically=False, run_jobs=False)),
    ):
        with TestClient(app, base_url="https://testserver") as test_client:
            response = test_client.request(method, path, headers=headers, content=body)
            answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] in (400, 401, 404, 405)
    assert isinstance(answers[0][1], dict)
