"""``web.hot_routes``: a hot route is called through the layers given, with the app's exception
handlers, for the requests it matches fully; everything else goes on to the app. In the real app
the hot Matrix routes answer as the router's own routes do, with the same headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polaris.app import create_app
from polaris.instance import Instance
from polaris.matrix import routing
from polaris.web.hot_routes import HotApp, HotRoutes


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


class Stamp:
    """A layer that marks what passes it (stands for the app's own middleware)."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-layer", self.name.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


@pytest.fixture
def client() -> Iterator[tuple[TestClient, list[str]]]:
    reached: list[str] = []

    async def inner(request: Request) -> Response:
        reached.append(f"{request.method} {request.url.path}")
        return PlainTextResponse("router")

    app = HotApp(
        routes=[Route("/{path:path}", inner, methods=["GET", "POST", "PUT"])],
        exception_handlers={Teapot: teapot, Exception: everything},
    )
    app.hot_routes = HotRoutes(
        routes=[Route("/hot/{name}", hot, methods=["GET", "PUT"])],
        handlers=app.exception_handlers,
        prefix="/hot/",
        layers=[Middleware(Stamp, name="outer"), Middleware(Stamp, name="inner")],
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, reached


def test_a_request_a_hot_route_matches_fully_goes_to_it_through_the_layers_given(
    client: tuple[TestClient, list[str]],
) -> None:
    test_client, reached = client
    answer = test_client.get("/hot/एक")
    assert answer.text == "hot एक"
    assert answer.headers.get_list("x-layer") == ["inner", "outer"]  # outermost first
    assert reached == []


def test_anything_else_goes_on_to_the_app(client: tuple[TestClient, list[str]]) -> None:
    test_client, reached = client
    assert test_client.post("/hot/x").text == "router"  # the method does not match
    assert test_client.get("/hot/x/y").text == "router"  # the path does not
    assert test_client.get("/cold/x").text == "router"  # outside the prefix
    # A form body: the app's form-encoding check reads it, so the whole app takes it.
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert test_client.put("/hot/x", content=b"a=%FF", headers=form).text == "router"
    assert reached == ["POST /hot/x", "GET /hot/x/y", "GET /cold/x", "PUT /hot/x"]


def test_with_fastapis_telemetry_on_every_request_takes_the_whole_app(
    client: tuple[TestClient, list[str]],
) -> None:
    test_client, reached = client
    app = test_client.app
    assert isinstance(app, HotApp)
    app._traced = lambda: True  # type: ignore[method-assign]
    assert test_client.get("/hot/x").text == "router"
    assert reached == ["GET /hot/x"]


def test_errors_go_through_the_apps_handlers_and_the_server_errors_to_its_500_handler(
    client: tuple[TestClient, list[str]],
) -> None:
    test_client, _ = client
    refused = test_client.get("/hot/teapot")
    assert (refused.status_code, refused.text) == (418, "handled")
    assert refused.headers.get_list("x-layer") == ["inner", "outer"]
    broken = test_client.get("/hot/broken")  # past the layers, to the server-error layer
    assert (broken.status_code, broken.text) == (500, "the server-error layer's")


def _without_hot_routes(app: FastAPI) -> FastAPI:
    assert isinstance(app, HotApp) and app.hot_routes is not None
    app.hot_routes = None
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
    hot = HotRoutes(routes=routing.HOT_ROUTES, handlers={}, prefix="/_matrix/client/")
    scope = {"type": "http", "method": method, "path": path.split("?")[0], "headers": []}
    assert (hot.find(scope) is not None) == (method != "POST")  # the short stack is taken
    answers = []
    for app in (
        create_app(seeded, seal_periodically=False, run_jobs=False),
        _without_hot_routes(create_app(seeded, seal_periodically=False, run_jobs=False)),
    ):
        with TestClient(app, base_url="https://testserver") as test_client:
            response = test_client.request(method, path, headers=headers, content=body)
            # The same headers too (the request id's value aside): the app's own layers ran.
            assert "x-request-id" in response.headers
            named = {k: v for k, v in response.headers.items() if k != "x-request-id"}
            answers.append((response.status_code, response.json(), named))
    assert answers[0] == answers[1]
    assert "access-control-allow-origin" in answers[0][2]  # the Matrix CORS layer
    assert "content-security-policy" in answers[0][2]  # the request-context layer
    assert answers[0][0] in (400, 401, 404, 405)
    assert isinstance(answers[0][1], dict)
