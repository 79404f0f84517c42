"""What every JSON route needs of its caller, read back from the app's OpenAPI document.

The routes declare it through their caller dependency (``polaris.deps``), which the OpenAPI
shows as security requirements: ``token`` lists the scope an API token needs (none listed: the
default of ``policy.route_need``), ``session`` lists ``administrator`` for administration. This
module turns that into the table in ``docs/security.md``; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from polaris.access.policy import route_need

#: The role name the OpenAPI lists under ``session`` for administration routes.
ADMINISTRATOR = "administrator"
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
NO_TOKEN = "no (session only)"  # noqa: S105 - a table cell, not a secret
NO_SIGN_IN = "—"


@dataclass(frozen=True)
class RouteScope:
    method: str
    path: str
    token: str  # the scope an API token needs, NO_TOKEN or NO_SIGN_IN
    session: str  # "administrator", "signed in" or NO_SIGN_IN


def route_scopes(spec: Mapping[str, Any]) -> Iterator[RouteScope]:
    """Every operation of an OpenAPI document, in its order, with what it needs."""
    for path, operations in spec["paths"].items():
        for method in HTTP_METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            needs: dict[str, list[str]] = {}
            for requirement in operation.get("security", []):
                for scheme, scopes in requirement.items():
                    needs.setdefault(scheme, []).extend(scopes)
            if "token" in needs:
                token = route_need(method, needs["token"]).value
            else:
                token = NO_TOKEN if "session" in needs else NO_SIGN_IN
            if "session" not in needs:
                session = NO_SIGN_IN
            else:
                session = ADMINISTRATOR if ADMINISTRATOR in needs["session"] else "signed in"
            yield RouteScope(method.upper(), path, token, session)


def scope_table(spec: Mapping[str, Any]) -> str:
    """The Markdown table of ``docs/security.md``'s section on token scopes."""
    lines = ["| method | path | API token needs | session |", "|---|---|---|---|"]
    lines += [
        f"| {row.method} | `{row.path}` | {row.token} | {row.session} |"
        for row in route_scopes(spec)
    ]
    return "\n".join(lines) + "\n"
