"""Reading a Matrix JSON body (``polaris.matrix.body``): whatever the bytes, a dict or a clear
``MatrixError``, never another exception; and nothing it accepts holds NUL or an unsafe number."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from polaris.matrix.body import MAX_DEPTH, MAX_INT, parse_object
from polaris.web.matrix_errors import MatrixError

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _safe(value: Any, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return True
    if isinstance(value, int):
        return -MAX_INT <= value <= MAX_INT
    if isinstance(value, list):
        return all(_safe(item, depth + 1) for item in value)
    return all(_safe(key, depth + 1) and _safe(item, depth + 1) for key, item in value.items())


@given(st.binary(max_size=200))
def test_any_bytes_give_an_object_or_a_matrix_error(raw: bytes) -> None:
    try:
        assert isinstance(parse_object(raw), dict)
    except MatrixError as error:
        assert error.errcode in ("M_NOT_JSON", "M_BAD_JSON")
        assert error.http_status == 400


@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4))
def test_an_object_is_accepted_exactly_when_it_is_safe(value: dict[str, Any]) -> None:
    raw = json.dumps(value).encode()
    try:
        parsed = parse_object(raw)
    except MatrixError as error:
        assert error.errcode == "M_BAD_JSON"
        assert not _safe(value)
    else:
        assert _safe(value) and parsed == value


def test_an_empty_body_is_an_empty_object_only_where_allowed() -> None:
    assert parse_object(b"  ", empty_ok=True) == {}
    try:
        parse_object(b"")
    except MatrixError as error:
        assert error.errcode == "M_NOT_JSON"
    else:
        raise AssertionError("an empty body was taken as JSON")
