"""FastAPI's per-app route building, done once per test process instead of once per test.

FastAPI (0.16x) builds an included route's handler, dependency tree and response fields
lazily, the first time a request is matched past it, and keeps the result on the app's own
copy of the router. The tests make a new app for nearly every test (each over its own
instance), so each test rebuilt every route its requests walked past: measured on
``tests/web/test_api.py`` and ``tests/web/test_account_pages.py``, 44 s of their 68 s of CPU.

What is built depends only on the route and on how its router was included (prefix, tags,
dependencies, body limit), never on the app, except the object FastAPI asks for dependency
overrides, which no test or module of Polaris uses (``tests/test_architecture.py`` keeps it
so). So the built context is shared between apps whose inclusion is the same; a route included
differently is built again. A FastAPI without this private hook is left alone: the tests are
slower, not wrong.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_SHARED: dict[tuple[Any, ...], tuple[Any, Any]] = {}


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted(((repr(k), _frozen(v)) for k, v in value.items()), key=repr))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


def _inclusion(context: Any) -> tuple[Any, ...]:
    """How a router was included: every field but the dependency-overrides provider (the app)."""
    return tuple(
        (field.name, _frozen(getattr(context, field.name)))
        for field in dataclasses.fields(context)
        if field.name != "dependency_overrides_provider"
    )


def share_route_builds() -> bool:
    """Patch FastAPI's included-router build to reuse what an earlier app built; True if done."""
    try:
        from fastapi.routing import _IncludedRouter  # private: absent in other versions
    except ImportError:
        return False
    build = getattr(_IncludedRouter, "_build_effective_context", None)
    if build is None or getattr(build, "shared", False):
        return build is not None

    def shared_build(self: Any, route: Any) -> Any:
        # Routes are not hashable: keyed by identity, the route kept beside what was built so
        # that a route made per app (and freed) never hands its id to another's build.
        key = (id(route), _inclusion(self.include_context))
        kept = _SHARED.get(key)
        if kept is not None and kept[0] is route:
            return kept[1]
        built = build(self, route)
        _SHARED[key] = (route, built)
        return built

    shared_build.shared = True  # type: ignore[attr-defined]
    _IncludedRouter._build_effective_context = shared_build  # type: ignore[method-assign]
    return True
