"""Errors under ``/_matrix`` and ``/.well-known/matrix`` in the Matrix format.

Matrix clients read ``{"errcode": "M_…", "error": "…"}`` and act on the code: ``M_UNKNOWN_TOKEN``
signs the client out, ``M_LIMIT_EXCEEDED`` makes it wait ``retry_after_ms``. Every error of those
paths leaves in that shape (``problems`` calls :func:`from_polaris`, :func:`from_validation` and
:func:`from_http`; the body limit :func:`too_large_body`), whatever raised it: a route, a
dependency, the router (no such endpoint), the body limit. The ``error`` strings are English, as
Synapse's are: clients show their own texts by ``errcode`` (docs/matrix.md).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from polaris.errors import PolarisError, Throttled

MATRIX_PREFIXES = ("/_matrix/", "/.well-known/matrix/")

#: Status and ``errcode`` by Polaris's error code, where its status alone does not say it.
_BY_CODE = {
    "invalid_credentials": (403, "M_FORBIDDEN"),
    "session_expired": (401, "M_UNKNOWN_TOKEN"),
    "invalid_token": (401, "M_UNKNOWN_TOKEN"),
    "not_authenticated": (401, "M_MISSING_TOKEN"),
    "malformed_json": (400, "M_NOT_JSON"),
    "invalid_utf8": (400, "M_INVALID_PARAM"),
    "file_too_large": (413, "M_TOO_LARGE"),
    "payload_too_large": (413, "M_TOO_LARGE"),
    "length_mismatch": (400, "M_INVALID_PARAM"),
    # Clients tell people "too large" for M_TOO_LARGE; the error says it is the quota.
    "quota_exceeded": (413, "M_TOO_LARGE"),
}
#: ``errcode`` by status, for the rest.
_BY_STATUS = {
    400: "M_BAD_JSON",
    401: "M_UNKNOWN_TOKEN",
    403: "M_FORBIDDEN",
    404: "M_NOT_FOUND",
    405: "M_UNRECOGNIZED",
    413: "M_TOO_LARGE",
    422: "M_BAD_JSON",
    429: "M_LIMIT_EXCEEDED",
}


class MatrixError(PolarisError):
    """An error with its Matrix ``errcode`` and status given; ``fields`` join the body. An empty
    ``errcode`` leaves out ``errcode`` and ``error`` (the first 401 of user-interactive
    authentication is only its flows)."""

    public_extra = True

    def __init__(self, status: int, errcode: str, error: str, **fields: Any) -> None:
        super().__init__(error, code=errcode.lower() or "matrix_uia", **fields)
        self.http_status = status
        self.errcode = errcode


def is_matrix(path: str) -> bool:
    return path.startswith(MATRIX_PREFIXES)


def matrix_response(
    status: int,
    errcode: str,
    error: str,
    *,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"errcode": errcode, "error": error, **fields} if errcode else fields
    if errcode in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
        body.setdefault("soft_logout", False)
    return JSONResponse(body, status_code=status, headers=headers)


def from_polaris(error: PolarisError) -> JSONResponse:
    headers = dict(error.headers)
    if isinstance(error, MatrixError):
        return matrix_response(
            error.http_status, error.errcode, error.detail, headers=headers, **error.extra
        )
    if isinstance(error, Throttled):
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
        return matrix_response(
            429,
            "M_LIMIT_EXCEEDED",
            error.detail,
            headers=headers,
            retry_after_ms=max(1000, round(error.retry_after * 1000)),
        )
    status = 400 if error.status == 422 else error.status
    status, errcode = _BY_CODE.get(error.code, (status, _BY_STATUS.get(error.status, "M_UNKNOWN")))
    return matrix_response(status, errcode, error.detail, headers=headers)


def from_validation(json_invalid: bool) -> JSONResponse:
    if json_invalid:
        return matrix_response(400, "M_NOT_JSON", "the request body is not valid JSON")
    return matrix_response(400, "M_BAD_JSON", "the request is not valid")


def from_http(status: int, detail: str) -> JSONResponse:
    if status in (404, 405):
        return matrix_response(status, "M_UNRECOGNIZED", "unrecognised request")
    return matrix_response(status, _BY_STATUS.get(status, "M_UNKNOWN"), detail)


def internal_error() -> JSONResponse:
    return matrix_response(500, "M_UNKNOWN", "internal server error; the error was logged")


def too_large_body(limit: int) -> bytes:
    """The body of the body limit's 413 on a Matrix path."""
    return json.dumps(
        {"errcode": "M_TOO_LARGE", "error": f"the request body is larger than {limit} bytes"}
    ).encode()
