"""What every request is checked for before its route: the one list, used by the app as its
FastAPI-wide dependency and called by the few plain Starlette routes (the busiest Matrix ones,
which skip FastAPI's per-request dependency machinery) at their start."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from polaris.web.params import refuse_undecodable_url
from polaris.web.readonly import refuse_writes_during_incident


async def every_request(request: HTTPConnection) -> None:
    """A URL whose bytes are not UTF-8 is refused (400); during incident response a write is
    refused (``web.readonly``)."""
    await refuse_undecodable_url(request)
    await refuse_writes_during_incident(request)
