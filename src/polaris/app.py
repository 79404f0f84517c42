"""The FastAPI application factory: the composition root of the web app.

It is the one module that imports every package's routes, and it wires what the packages offer one
another without importing one another: ingest's thumbnails into drive's folder listing
(``polaris.web.listing``). The tables are collected in ``polaris.tables``, the job handlers and the
change stream's consumers in ``polaris.handlers``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware

from polaris import __version__
from polaris.admin.views import router as admin_pages
from polaris.chat import live as chat_live
from polaris.chat.api import router as chat_router
from polaris.chat.api_retention import router as chat_retention_router
from polaris.chat.views import router as chat_pages
from polaris.dav.gate import OPTIONS_HEADERS as DAV_OPTIONS_HEADERS
from polaris.dav.mount import DavDispatch
from polaris.drive.api import router as drive_router
from polaris.drive.api_content import router as content_router
from polaris.drive.api_retention import router as retention_router
from polaris.drive.api_tus import router as tus_router
from polaris.drive.api_zip import router as zip_router
from polaris.drive.views import router as drive_pages
from polaris.events import notify as event_notify
from polaris.events.runner import EventRunner
from polaris.handlers import load_consumers, load_job_handlers, schedule_periodic
from polaris.identity.api import router as identity_router
from polaris.identity.api_app_passwords import router as app_passwords_router
from polaris.identity.api_directory import router as directory_router
from polaris.identity.api_groups import router as groups_router
from polaris.identity.views import router as identity_pages
from polaris.identity.views_app_passwords import router as app_password_pages
from polaris.identity.views_login_flow import router as login_flow_pages
from polaris.incident.service import CachedState
from polaris.ingest import views as ingest_views
from polaris.instance import Instance
from polaris.jobs import Worker, notify
from polaris.matrix import routing as matrix_routing
from polaris.matrix.api import fallback_router as matrix_fallback
from polaris.matrix.api import polaris_router as matrix_api_router
from polaris.matrix.api import router as matrix_router
from polaris.matrix.api_account import router as matrix_account_router
from polaris.matrix.api_element import router as matrix_element_router
from polaris.matrix.api_media import router as matrix_media_router
from polaris.matrix.api_rooms import router as matrix_rooms_router
from polaris.matrix.api_sync import router as matrix_sync_router
from polaris.matrix.views import router as matrix_pages
from polaris.notifications import views as notification_views
from polaris.notifications.api import router as notifications_router
from polaris.search.api import router as search_router
from polaris.search.api_messages import router as message_search_router
from polaris.search.views import router as search_pages
from polaris.web import checks, header, heap, listing, logs, problems, route_guard
from polaris.web.assets import VersionedStatic
from polaris.web.compression import CompressionMiddleware
from polaris.web.hot_routes import HotApp, HotRoutes
from polaris.web.middleware import (
    BodyLimitMiddleware,
    MatrixCorsMiddleware,
    RequestContextMiddleware,
)
from polaris.web.params import FormEncodingMiddleware
from polaris.web.sealing import PeriodicSealer
from polaris.web.templating import STATIC_DIR

API_PREFIX = "/api/v1"
# Routes below these stream their bodies to storage and enforce their own limits.
STREAMING_PREFIXES = (
    "/api/v1/files",
    "/api/v1/uploads",
    "/dav",
    "/remote.php/dav",
    "/remote.php/webdav",
    "/_matrix/media/",
)
# Responses below these are never compressed: WebDAV clients and uploads get bytes as stored.
UNCOMPRESSED_PREFIXES = ("/dav", "/remote.php/dav", "/api/v1/uploads", "/_matrix/media/")


def create_app_from_environment() -> FastAPI:
    """The app of a ``polaris serve --workers N`` process, for the data directory it was given."""
    from polaris.config import SERVE_DATA_DIR_ENV, load_settings
    from polaris.instance import open_instance

    instance = open_instance(load_settings(os.environ[SERVE_DATA_DIR_ENV]))
    return create_app(instance, settle_heap=True)


def _dav_options(app: FastAPI) -> None:
    """``OPTIONS /``: Windows' WebDAV client asks the server's root what it speaks before mapping
    a drive (the WebDAV addresses themselves are ``polaris.dav.mount``'s)."""
    from starlette.responses import Response

    @app.options("/", include_in_schema=False)
    def server_options() -> Response:
        return Response(status_code=200, headers=dict(DAV_OPTIONS_HEADERS))


def create_app(
    instance: Instance,
    *,
    seal_periodically: bool = True,
    run_jobs: bool = True,
    settle_heap: bool = False,
) -> FastAPI:
    """The web app; unless told not to, it also runs job workers (``jobs.in_process_workers``).
    ``settle_heap``: once started, set the process's garbage collector for serving
    (``web.heap``; ``polaris serve`` only)."""
    logs.configure(instance.settings.logs, directory=instance.settings.resolved_log_path)
    load_job_handlers()
    load_consumers()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sealer = PeriodicSealer(instance) if seal_periodically else None
        if sealer is not None:
            sealer.start()
        # A web node without job threads (jobs.in_process_workers = 0, workers on machines of
        # their own) still queues jobs and appends events: its commits must nudge the workers
        # and event runners of other nodes.
        notify.configure(instance.settings.jobs.redis_url)
        event_notify.configure(instance.settings.jobs.redis_url)
        threads = instance.settings.jobs.in_process_workers if run_jobs else 0
        worker = Worker(instance, threads=threads) if threads else None
        events = EventRunner(instance) if threads else None
        if worker is not None and events is not None:
            schedule_periodic(instance)
            worker.start()
            events.start()
        if settle_heap:
            heap.settle()
        try:
            yield
        finally:
            if worker is not None and events is not None:
                events.stop()
                worker.stop()
            chat_live.stop_hub(_app.state)
            notify.configure(None)
            event_notify.configure(None)
            if sealer is not None:
                sealer.stop()

    app = HotApp(
        lifespan=lifespan,
        title="Polaris",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(checks.every_request)],
    )
    app.state.instance = instance
    # The incident switch, read at most every 2 s (polaris.incident, polaris.web.readonly).
    app.state.read_only = CachedState(instance.read_sessions)
    problems.install(app)
    ingest_views.decorate(listing.install(app))
    notification_views.register(header.install(app))
    # (Since ``web.route_guard``, a router that cannot serve a path is skipped at once, so the
    # order below matters less: a router's own routes are still walked in order.)
    # The drive's metadata routes first: a request is matched against the routes in order
    # (165 µs for `GET /nodes/{id}` behind the identity routers, 36 µs first); no path of
    # another router matches one of the drive's, so the order decides nothing else (checked
    # for every route and method when it was moved).
    app.include_router(drive_router, prefix=API_PREFIX)
    # Then the Matrix client-server API (behind the drive's 18 routes; ~250 came before
    # ``/sync``, a large part of a woken sync's CPU). These routers answer only
    # ``/_matrix/`` and ``/.well-known/matrix/`` paths, which no other route takes
    # (tests/web/test_route_order.py), so the order changes no answer.
    app.include_router(matrix_rooms_router)  # before matrix_media_router: media of rooms
    app.include_router(matrix_sync_router)
    app.include_router(matrix_router)
    app.include_router(matrix_account_router)
    app.include_router(matrix_element_router)
    app.include_router(matrix_media_router)
    app.include_router(matrix_fallback)  # after the Matrix routes: every other /_matrix path
    app.include_router(identity_router, prefix=API_PREFIX)
    app.include_router(groups_router, prefix=API_PREFIX)
    app.include_router(directory_router, prefix=API_PREFIX)
    app.include_router(app_passwords_router, prefix=API_PREFIX)
    app.include_router(content_router, prefix=API_PREFIX)
    app.include_router(retention_router, prefix=API_PREFIX)
    app.include_router(tus_router, prefix=API_PREFIX)
    app.include_router(zip_router, prefix=API_PREFIX)
    app.include_router(search_router, prefix=API_PREFIX)
    app.include_router(message_search_router, prefix=API_PREFIX)
    app.include_router(matrix_api_router, prefix=API_PREFIX)
    app.include_router(chat_router, prefix=API_PREFIX)
    app.include_router(chat_retention_router, prefix=API_PREFIX)
    app.include_router(notifications_router, prefix=API_PREFIX)
    app.include_router(identity_pages)
    app.include_router(app_password_pages)
    app.include_router(login_flow_pages)
    app.include_router(ingest_views.router)  # a file's pages, before the selection's routes
    app.include_router(drive_pages)
    app.include_router(admin_pages)
    app.include_router(search_pages)
    app.include_router(chat_pages)
    app.include_router(notification_views.router)
    app.include_router(matrix_pages)
    app.mount("/static", VersionedStatic(StaticFiles(directory=STATIC_DIR)), name="static")
    if instance.settings.dav.enabled:
        _dav_options(app)

    @app.get(f"{API_PREFIX}/health", tags=["system"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    route_guard.guard(app)  # after the last route: each router refuses a path it cannot serve

    # The layers a hot route's request passes too (web.hot_routes), outermost first; the app
    # has them outside WebDAV's dispatch and the form-encoding check.
    front = [
        Middleware(RequestContextMiddleware),
        Middleware(MatrixCorsMiddleware),
        # gzip outside the app's routes and DAV, inside the request-id and security headers.
        Middleware(CompressionMiddleware, skip_prefixes=UNCOMPRESSED_PREFIXES),
        Middleware(
            BodyLimitMiddleware,
            limit=instance.settings.http.max_json_bytes,
            streaming_prefixes=STREAMING_PREFIXES,
        ),
    ]
    app.add_middleware(FormEncodingMiddleware)
    if instance.settings.dav.enabled:
        # Inside the request-id, log and body-limit layers, outside the form-encoding check.
        app.add_middleware(DavDispatch, instance=instance)
    for layer in reversed(front):
        app.add_middleware(layer.cls, *layer.args, **layer.kwargs)
    # The busiest Matrix routes through those layers alone, past FastAPI's.
    app.hot_routes = HotRoutes(
        routes=list(matrix_routing.HOT_ROUTES),
        handlers=app.exception_handlers,
        prefix="/_matrix/client/",
        layers=front,
        debug=app.debug,
    )
    return app
