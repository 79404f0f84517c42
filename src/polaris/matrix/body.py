"""Reading a Matrix request's JSON body, refusing what would break later as a clear error.

Python's ``json`` takes ``NaN`` and numbers of any size, and a string may hold NUL, which
PostgreSQL cannot store: each is refused here as ``M_BAD_JSON`` (``M_NOT_JSON`` when the body
is no JSON at all) before a route sees it, never a 500 at the database. Integers are held to
Matrix's canonical JSON range (±(2^53 − 1)).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from polaris.web.matrix_errors import MatrixError

MAX_INT = 2**53 - 1
MAX_DEPTH = 32


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise MatrixError(400, "M_BAD_JSON", f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:
            raise MatrixError(400, "M_BAD_JSON", "a string holds a NUL character")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:
            raise MatrixError(400, "M_BAD_JSON", "an integer is out of range (±2^53 − 1)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def parse_object(raw: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    """The JSON object in ``raw``; an empty body is ``{}`` when ``empty_ok``."""
    if not raw.strip() and empty_ok:
        return {}
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MatrixError(400, "M_NOT_JSON", "the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise MatrixError(400, "M_BAD_JSON", "the request body must be a JSON object")
    _check(value, 0)
    return value


async def json_object(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    return parse_object(await request.body(), empty_ok=empty_ok)


def string(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    """``body[key]`` as a string; ``M_BAD_JSON`` when it is another type, or missing and
    required."""
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise MatrixError(400, "M_BAD_JSON", f"{key!r} must be a string")
    return value


def plain_text(value: str) -> bool:
    """No control characters (C0, DEL, C1): what a name or type shown in a list may hold.
    Format characters stay allowed: Indian scripts need the zero-width joiners."""
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)
