"""The import rules of docs/architecture.md ("Modules and imports"), read from the source (``ast``).

1. No module imports another package's route modules (``api.py``, ``api_*.py``, ``views.py``,
   ``views_*.py``) or private modules and names (``_x``). The app factory (``polaris.app``), the
   composition root, is the one exception: it mounts every router.
2. The layers below the domains (access, audit, backup, db, events, jobs, malware, storage, web)
   import no domain.
3. Nothing under ``drive/`` imports ingest, search or resilience: they build on drive, not it
   on them.
4. The domains' import graph has no cycle.

Every import counts, also one inside a function or under ``TYPE_CHECKING``. A failure names the
importing module, its line and what it imports.
"""

from __future__ import annotations

import ast
import graphlib
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
DOMAINS = frozenset(
    {
        "identity",
        "drive",
        "ingest",
        "search",
        "admin",
        "resilience",
        "chat",
        "records",
        "matrix",
        "notifications",
    }
)
#: Below the domains: they serve every domain and know none.
LOWER = frozenset(
    {"access", "audit", "backup", "db", "events", "jobs", "malware", "storage", "web"}
)
#: Mounts every package's routers, so it imports route modules by design.
COMPOSITION_ROOT = "polaris.app"
ROUTE_MODULE = re.compile(r"(api|views)(_\w+)?")


@dataclass(frozen=True)
class Import:
    importer: str  # a module, "polaris.drive.views"
    line: int
    target: str  # the module imported, "polaris.ingest.service"
    name: str | None = None  # the name taken from it, when it is not a module

    def __str__(self) -> str:
        what = self.target if self.name is None else f"{self.target}.{self.name}"
        return f"{self.importer} (line {self.line}) imports {what}"


def package_of(module: str) -> str | None:
    """``drive`` for ``polaris.drive.views``; None for a top-level module (``polaris.app``)."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "polaris":
        return None
    if len(parts) == 2 and not (SRC / "polaris" / parts[1]).is_dir():
        return None
    return parts[1]


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted((SRC / "polaris").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path, known: Iterable[str]) -> Iterator[Import]:
    """The imports of Polaris's own modules in ``path``; ``from m import x`` is of ``m.x`` when
    that is a module, else of ``m`` (naming ``x``)."""
    known = set(known)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "polaris":
                    yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "polaris":
                continue
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    yield Import(module, node.lineno, f"{base}.{alias.name}")
                else:
                    yield Import(module, node.lineno, base, alias.name)


def all_imports() -> list[Import]:
    found = modules()
    return [item for module, path in found.items() for item in imports_of(module, path, found)]


def is_route_module(module: str) -> bool:
    return package_of(module) is not None and bool(ROUTE_MODULE.fullmatch(module.split(".")[-1]))


def is_private(item: Import) -> bool:
    parts = item.target.split(".")[2:] + ([item.name] if item.name else [])
    return any(part.startswith("_") and not part.startswith("__") for part in parts)


def across_packages(item: Import) -> bool:
    return package_of(item.importer) != package_of(item.target)


def route_or_private_imports(imports: Iterable[Import]) -> list[str]:
    """Rule 1."""
    return [
        f"{item}: another package's {'route' if is_route_module(item.target) else 'private'} "
        "module; use its service, or move what is shared to polaris/web/"
        for item in imports
        if item.importer != COMPOSITION_ROOT
        and across_packages(item)
        and (is_route_module(item.target) or is_private(item))
    ]


def lower_layer_imports(imports: Iterable[Import]) -> list[str]:
    """Rule 2."""
    return [
        f"{item}: {package_of(item.importer)} is below the domains and may not know one"
        for item in imports
        if package_of(item.importer) in LOWER and package_of(item.target) in DOMAINS
    ]


def drive_imports_of_ingest_or_search(imports: Iterable[Import]) -> list[str]:
    """Rule 3."""
    return [
        f"{item}: drive may not import {package_of(item.target)}, which builds on drive"
        for item in imports
        if package_of(item.importer) == "drive"
        and package_of(item.target) in {"ingest", "search", "resilience"}
    ]


def domain_cycle(imports: Iterable[Import]) -> list[str]:
    """Rule 4: a cycle of domains, each step named by the imports that make it; empty if none."""
    witnesses: dict[tuple[str, str], list[Import]] = defaultdict(list)
    graph: dict[str, set[str]] = defaultdict(set)
    for item in imports:
        source, target = package_of(item.importer), package_of(item.target)
        if source in DOMAINS and target in DOMAINS and source != target:
            graph[source].add(target)
            witnesses[(source, target)].append(item)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        # graphlib lists each node before one that depends on it (here: that imports it).
        cycle: list[str] = list(reversed(error.args[1]))
        lines = [f"the domains import one another in a cycle: {' -> '.join(cycle)}"]
        for source, target in itertools.pairwise(cycle):
            lines += [f"  {item}" for item in witnesses[(source, target)]]
        return lines
    return []


# The rules over the code as it is


def test_no_module_imports_another_packages_routes_or_private_modules() -> None:
    offences = route_or_private_imports(all_imports())
    assert not offences, "\n".join(offences)


def test_the_layers_below_the_domains_import_no_domain() -> None:
    offences = lower_layer_imports(all_imports())
    assert not offences, "\n".join(offences)


def test_drive_imports_neither_ingest_nor_search() -> None:
    offences = drive_imports_of_ingest_or_search(all_imports())
    assert not offences, "\n".join(offences)


def test_the_domains_import_one_another_without_a_cycle() -> None:
    cycle = domain_cycle(all_imports())
    assert not cycle, "\n".join(cycle)


# The checks themselves: they see what they must, and say where


def test_the_scan_resolves_imports_to_modules_and_names() -> None:
    found = {(item.importer, item.target, item.name) for item in all_imports()}
    # The composition root mounts the routers: seen, and allowed only there.
    assert ("polaris.app", "polaris.drive.views", "router") in found
    assert ("polaris.db.migrations.env", "polaris.tables", "metadata") in found
    assert ("polaris.search.querying", "polaris.drive.indexing", None) in found  # a module
    assert len(found) > 500


def test_a_relative_import_is_resolved(tmp_path: Path) -> None:
    source = tmp_path / "__init__.py"
    source.write_text("from . import views\nfrom ..drive._locate import Located\n")
    found = list(
        imports_of("polaris.search", source, {"polaris.search.views", "polaris.drive._locate"})
    )
    assert [(item.target, item.name) for item in found] == [
        ("polaris.search.views", None),
        ("polaris.drive._locate", "Located"),
    ]


def test_each_rule_names_the_offending_module_and_import() -> None:
    bad = [
        Import("polaris.search.views", 12, "polaris.drive.views_common", "page"),
        Import("polaris.search.querying", 24, "polaris.drive._locate", "Located"),
        Import("polaris.cli.import_cmd", 25, "polaris.drive.api", "space_defaults"),
        Import("polaris.db.registry", 9, "polaris.drive.models"),
        Import("polaris.drive.views", 28, "polaris.ingest.service"),
        Import("polaris.identity.users", 3, "polaris.admin.jobs"),
        Import("polaris.admin.jobs", 4, "polaris.identity.users"),
    ]
    assert route_or_private_imports(bad) == [
        "polaris.search.views (line 12) imports polaris.drive.views_common.page: another "
        "package's route module; use its service, or move what is shared to polaris/web/",
        "polaris.search.querying (line 24) imports polaris.drive._locate.Located: another "
        "package's private module; use its service, or move what is shared to polaris/web/",
        "polaris.cli.import_cmd (line 25) imports polaris.drive.api.space_defaults: another "
        "package's route module; use its service, or move what is shared to polaris/web/",
    ]
    assert lower_layer_imports(bad) == [
        "polaris.db.registry (line 9) imports polaris.drive.models: db is below the domains and "
        "may not know one"
    ]
    assert drive_imports_of_ingest_or_search(bad) == [
        "polaris.drive.views (line 28) imports polaris.ingest.service: drive may not import "
        "ingest, which builds on drive"
    ]
    cycle = domain_cycle(bad)
    assert cycle[0].startswith("the domains import one another in a cycle: ")
    assert set(cycle[0].rsplit(": ", 1)[1].split(" -> ")) == {"identity", "admin"}
    assert sorted(cycle[1:]) == [
        "  polaris.admin.jobs (line 4) imports polaris.identity.users",
        "  polaris.identity.users (line 3) imports polaris.admin.jobs",
    ]
    # Within a package anything goes; the composition root may mount routers.
    fine = [
        Import("polaris.drive.views", 1, "polaris.drive._locate", "Located"),
        Import("polaris.app", 1, "polaris.drive.views", "router"),
        Import("polaris.search.views", 1, "polaris.drive.sidebar", "sidebar_of"),
    ]
    assert route_or_private_imports(fine) == []


def test_no_code_overrides_fastapi_dependencies() -> None:
    """The tests share FastAPI's built routes between apps (tests/support/shared_routes.py),
    which is only the same app if none of them overrides a dependency."""
    tests = Path(__file__).resolve().parent
    users = [
        path
        for root in (SRC, tests)
        for path in root.rglob("*.py")
        if path.name != "shared_routes.py"
        and path != Path(__file__).resolve()
        and "dependency_overrides" in path.read_text(encoding="utf-8")
    ]
    assert users == []
