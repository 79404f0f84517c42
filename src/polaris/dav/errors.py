"""Polaris's errors as WsgiDAV's: the same status and the same plain detail as the API gives.

WsgiDAV answers an exception that is not a ``DAVError`` with a 500, so every call into the drive
goes through :func:`translated`. A name the drive refuses is a 400 here, not the API's 422: a
WebDAV client reads the status only, and 400 is what RFC 4918 clients expect of a bad request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from wsgidav.dav_error import DAVError

from polaris.errors import PolarisError, ValidationFailed

T = TypeVar("T")


def dav_error(error: PolarisError) -> DAVError:
    status = 400 if isinstance(error, ValidationFailed) else error.status
    return DAVError(status, context_info=f"{error.code}: {error.detail}")


@contextmanager
def translated() -> Iterator[None]:
    """Raise a ``PolarisError`` from the block as the ``DAVError`` of the same status."""
    try:
        yield
    except PolarisError as error:
        raise dav_error(error) from None


def call(function: Callable[[], T]) -> T:
    with translated():
        return function()
