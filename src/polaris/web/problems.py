"""Errors leave the API as ``application/problem+json`` (RFC 9457) with a stable ``code``.

``PolarisError`` maps to its own status and code; request validation (including malformed JSON)
to 422; a full disk, wherever it is noticed (the blob store, SQLite, PostgreSQL), to 507
``storage_full`` in plain words; anything else is logged with its traceback and answered as a bare
500 that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from polaris.db.full import FULL_DETAIL, storage_full_from
from polaris.errors import PolarisError, StorageFailure, StorageFull, Throttled
from polaris.web import matrix_errors
from polaris.web.messages import N_
from polaris.web.pages import Redirect

log = logging.getLogger("polaris.web")

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"urn:polaris:error:{code}",
        "title": code,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def is_page(request: Request) -> bool:
    """A browser page (HTML errors) rather than the API, static files or WebDAV."""
    path = request.url.path
    return not path.startswith(("/api/", "/static/", "/dav")) and not matrix_errors.is_matrix(path)


def _page_error(request: Request, status: int, code: str) -> Response:
    from polaris.web.messages import error_message
    from polaris.web.templating import render

    heading = {404: N_("Not found"), 403: N_("Not allowed")}.get(status, N_("Error"))
    response = render(
        request,
        "error.html",
        status_code=status,
        heading=heading,
        message=error_message(code),
        csrf="",
    )
    return response


async def _redirect(request: Request, error: Exception) -> Response:
    assert isinstance(error, Redirect)
    return RedirectResponse(error.url, status_code=303)


def _plain(error: PolarisError) -> PolarisError:
    """The error as a client may see it: a full disk or a failed write is told in plain words,
    its internal detail (file and chunk paths, the database's message) goes to the log only."""
    full = storage_full_from(error)
    if full is not None or isinstance(error, StorageFull | StorageFailure):
        log.error("storage: %s", error.detail, extra={"code": error.code})
        if full is None:
            full = StorageFull(FULL_DETAIL) if isinstance(error, StorageFull) else None
        plain = full or StorageFailure(FAILURE_DETAIL)
        plain.headers.update(error.headers)
        return plain
    return error


FAILURE_DETAIL = "the server could not store the data; nothing was saved"


async def _polaris_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PolarisError)
    error = _plain(error)
    if matrix_errors.is_matrix(request.url.path):
        return matrix_errors.from_polaris(error)
    if is_page(request):
        return _page_error(request, error.status, error.code)
    headers = dict(error.headers)
    if isinstance(error, Throttled):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if request.url.path.startswith("/api/v1/uploads"):
        headers["Tus-Resumable"] = "1.0.0"
    extra: dict[str, Any] = dict(error.extra) if error.public_extra else {}
    errors = getattr(error, "errors", None)
    if errors:
        extra["errors"] = [{"row": e.row, "reason": e.text} for e in errors]
    return problem(error.status, error.code, error.detail, headers=headers, **extra)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if is_page(request):
        return _page_error(request, 422, "validation_failed")
    problems = error.errors()
    if matrix_errors.is_matrix(request.url.path):
        invalid = any(item.get("type") == "json_invalid" for item in problems)
        return matrix_errors.from_validation(invalid)
    if any(item.get("type") == "json_invalid" for item in problems):
        return problem(422, "malformed_json", "the request body is not valid JSON")
    fields = [
        {
            "field": ".".join(str(part) for part in item.get("loc", ())),
            "reason": item.get("msg", ""),
        }
        for item in problems
    ]
    return problem(422, "validation_failed", "the request is not valid", fields=fields)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    if matrix_errors.is_matrix(request.url.path):
        return matrix_errors.from_http(error.status_code, str(error.detail))
    if is_page(request):
        return _page_error(request, error.status_code, code)
    return problem(error.status_code, code, str(error.detail))


async def _unexpected_error(request: Request, error: Exception) -> Response:
    full = storage_full_from(error)
    if full is not None:  # the database's disk is full: a clear 507, not a server error
        log.error("database: %s", error)
        return await _polaris_error(request, full)
    log.exception(
        "unhandled error", extra={"request_id": getattr(request.state, "request_id", None)}
    )
    if matrix_errors.is_matrix(request.url.path):
        return matrix_errors.internal_error()
    if is_page(request):
        return _page_error(request, 500, "server_error")
    return problem(500, "internal_error", "something went wrong; the error was logged")


async def _client_gone(request: Request, error: Exception) -> Response:
    """The client went away mid-request: nothing to answer, and not a server error."""
    log.info("client disconnected", extra={"path": request.url.path})
    return Response(status_code=499)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Redirect, _redirect)
    app.add_exception_handler(PolarisError, _polaris_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
