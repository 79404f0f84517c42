"""Units: the office hierarchy as a closure table, created one by one or imported from CSV."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.errors import Conflict, NotFound, ValidationFailed
from polaris.identity import events
from polaris.identity.csvrows import ImportRejected, RowError, read_rows, row_error
from polaris.identity.models import Unit, UnitClosure
from polaris.web.messages import N_

UNIT_CSV_COLUMNS = ["code", "name", "kind", "parent_code"]
UNIT_CSV_OPTIONAL = ["name_hi"]
MAX_CODE_LENGTH = 64


class UnitKind(enum.StrEnum):
    HQ = "hq"
    ZONE = "zone"
    RANGE = "range"
    DISTRICT = "district"
    SUBDIVISION = "subdivision"
    STATION = "station"
    BRANCH = "branch"


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: UnitKind
    parent_code: str | None
    name_hi: str | None = None


def get_by_code(*, session: Session, code: str) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.code == code)).one_or_none()
    if unit is None:
        raise NotFound(f"unit {code!r} not found")
    return unit


def _parent(session: Session, code: str) -> Unit:
    """The unit named as a parent; ``unknown_parent`` (404) when none has this code."""
    try:
        return get_by_code(session=session, code=code)
    except NotFound:
        raise NotFound(f"parent unit {code!r} not found", code="unknown_parent") from None


def list_units(*, session: Session) -> list[Unit]:
    """Every unit (about a thousand in a state), by name: office names are not secret."""
    return list(session.scalars(select(Unit).order_by(Unit.name, Unit.code)))


def create_unit(*, session: Session, spec: UnitSpec, context: audit.AuditContext) -> Unit:
    """Create one unit under an existing parent (or the root, for an HQ)."""
    _check_spec(spec)
    if session.scalars(select(Unit.id).where(Unit.code == spec.code)).first() is not None:
        raise Conflict(f"unit code {spec.code!r} already exists", code="duplicate_code")
    parent = None
    if spec.parent_code is not None:
        parent = _parent(session, spec.parent_code)
    unit = _insert(session, spec, parent)
    audit.append(
        session=session,
        context=context,
        action="unit.create",
        object_type="unit",
        object_id=str(unit.id),
        detail={"code": unit.code, "parent": spec.parent_code},
    )
    events.changed(
        session, events.UNIT_CREATED, ("unit", unit.id), context, parent_id=unit.parent_id
    )
    return unit


#: The catalogue texts of ``_check_spec``'s refusals, by code (for CSV rows and pages).
SPEC_TEXTS = {
    "bad_code": N_("the unit code must be 1 to 64 printable characters"),
    "bad_name": N_("the unit name is empty or longer than 255 characters"),
    "parent_required": N_("only a headquarters may have no parent unit"),
    "unit_cycle": N_("a unit cannot be placed under itself or a unit below it"),
}


def _check_spec(spec: UnitSpec) -> None:
    if not spec.code or len(spec.code) > MAX_CODE_LENGTH or not spec.code.isprintable():
        raise ValidationFailed("unit code must be 1–64 printable characters", code="bad_code")
    _check_names(spec.name, spec.name_hi)
    if spec.parent_code is None and spec.kind is not UnitKind.HQ:
        raise ValidationFailed("only an HQ unit may have no parent", code="parent_required")
    if spec.parent_code == spec.code:
        raise ValidationFailed("a unit cannot be its own parent", code="unit_cycle")


def _check_names(name: str, name_hi: str | None) -> None:
    if not name or len(name) > 255 or (name_hi is not None and len(name_hi) > 255):
        raise ValidationFailed("unit name is empty or too long", code="bad_name")


def update_unit(
    *, session: Session, code: str, name: str, name_hi: str | None, context: audit.AuditContext
) -> Unit:
    """Rename a unit (English and Hindi names); its code, which files and scripts name it by,
    stays. Audited with what changed; ``unit.changed`` appended when anything did."""
    unit = get_by_code(session=session, code=code)
    name_hi = name_hi or None
    _check_names(name, name_hi)
    changed = {
        field: value
        for field, value in (("name", name), ("name_hi", name_hi))
        if getattr(unit, field) != value
    }
    for field, value in changed.items():
        setattr(unit, field, value)
    session.flush()
    audit.append(
        session=session,
        context=context,
        action="unit.update",
        object_type="unit",
        object_id=str(unit.id),
        detail={"code": unit.code, "changed": sorted(changed)},
    )
    if changed:
        events.changed(
            session, events.UNIT_CHANGED, ("unit", unit.id), context, parent_id=unit.parent_id
        )
    return unit


def move_unit(
    *, session: Session, code: str, parent_code: str, context: audit.AuditContext
) -> Unit:
    """Put a unit (with every unit below it) under another parent.

    Refused when the new parent is the unit itself or below it (a cycle) and for a unit with no
    parent (an HQ stays the root). The closure rows linking the subtree to its old ancestors are
    replaced by rows to the new ones, in the caller's transaction; ``unit.moved`` is appended so
    that what follows reach (the messenger's broadcasts, the drive's hindsight) re-reads it.
    """
    unit = get_by_code(session=session, code=code)
    parent = _parent(session, parent_code)
    if unit.parent_id is None:
        raise ValidationFailed("an HQ unit has no parent to change", code="parent_required")
    subtree = dict(
        session.execute(
            select(UnitClosure.descendant_id, UnitClosure.depth).where(
                UnitClosure.ancestor_id == unit.id
            )
        ).all()
    )
    if parent.id in subtree:
        raise ValidationFailed("a unit cannot be placed below itself", code="unit_cycle")
    old_parent_id = unit.parent_id
    if old_parent_id != parent.id:
        ids = sorted(subtree)
        session.execute(
            delete(UnitClosure).where(
                UnitClosure.descendant_id.in_(ids), UnitClosure.ancestor_id.notin_(ids)
            )
        )
        above = session.execute(
            select(UnitClosure.ancestor_id, UnitClosure.depth).where(
                UnitClosure.descendant_id == parent.id
            )
        ).all()
        session.add_all(
            UnitClosure(ancestor_id=ancestor_id, descendant_id=below, depth=up + 1 + down)
            for ancestor_id, up in above
            for below, down in subtree.items()
        )
        unit.parent_id = parent.id
        session.flush()
        events.changed(
            session,
            events.UNIT_MOVED,
            ("unit", unit.id),
            context,
            parent_id=parent.id,
            from_parent_id=old_parent_id,
        )
    audit.append(
        session=session,
        context=context,
        action="unit.move",
        object_type="unit",
        object_id=str(unit.id),
        detail={"code": unit.code, "from": old_parent_id, "to": parent.id},
    )
    return unit


def _insert(
    session: Session, spec: UnitSpec, parent: Unit | None, *, unit_id: int | None = None
) -> Unit:
    """The unit and its closure rows; ``unit_id`` given only by a recovery (the lost id)."""
    unit = Unit(
        id=unit_id,
        code=spec.code,
        name=spec.name,
        name_hi=spec.name_hi,
        kind=spec.kind.value,
        parent_id=parent.id if parent else None,
    )
    session.add(unit)
    session.flush()
    session.add(UnitClosure(ancestor_id=unit.id, descendant_id=unit.id, depth=0))
    if parent is not None:
        above = session.execute(
            select(UnitClosure.ancestor_id, UnitClosure.depth).where(
                UnitClosure.descendant_id == parent.id
            )
        ).all()
        session.add_all(
            UnitClosure(ancestor_id=ancestor_id, descendant_id=unit.id, depth=depth + 1)
            for ancestor_id, depth in above
        )
    session.flush()
    return unit


def import_units_csv(
    *,
    session: Session,
    data: bytes,
    context: audit.AuditContext,
    progress: Callable[[int, int], None] | None = None,
) -> list[Unit]:
    """Import every row or none. Parents may come later in the file or already exist.

    Raises ``ImportRejected`` listing each bad row: wrong columns, invalid UTF-8, an unknown kind,
    a duplicate code (in the file or already stored), an unknown parent, or a cycle.
    """
    specs, errors = _parse_unit_rows(data)
    existing = set(session.scalars(select(Unit.code)).all())
    rows_by_code: dict[str, int] = {}
    for line, spec in specs:
        if spec.code in existing:
            errors.append(row_error(line, N_("unit code %(code)s already exists"), code=spec.code))
        elif spec.code in rows_by_code:
            errors.append(
                row_error(
                    line,
                    N_("unit code %(code)s is repeated (first on row %(row)s)"),
                    code=spec.code,
                    row=rows_by_code[spec.code],
                )
            )
        else:
            rows_by_code[spec.code] = line
    by_code = {spec.code: (line, spec) for line, spec in specs}
    for line, spec in specs:
        parent = spec.parent_code
        if parent is not None and parent not in by_code and parent not in existing:
            errors.append(row_error(line, N_("parent %(code)s is not a known unit"), code=parent))
    errors.extend(_find_cycles(by_code))
    if errors:
        raise ImportRejected(sorted(set(errors), key=lambda error: error.row))
    created: list[Unit] = []
    units_by_code: dict[str, Unit] = {}
    for spec in _parents_first(by_code):
        parent_unit: Unit | None = None
        if spec.parent_code is not None:
            parent_unit = units_by_code.get(spec.parent_code) or get_by_code(
                session=session, code=spec.parent_code
            )
        unit = _insert(session, spec, parent_unit)
        events.changed(
            session, events.UNIT_CREATED, ("unit", unit.id), context, parent_id=unit.parent_id
        )
        units_by_code[spec.code] = unit
        created.append(unit)
        if progress is not None:
            progress(len(created), len(specs))
    audit.append(
        session=session,
        context=context,
        action="unit.import",
        object_type="unit",
        detail={"count": len(created)},
    )
    return created


def _parse_unit_rows(data: bytes) -> tuple[list[tuple[int, UnitSpec]], list[RowError]]:
    specs: list[tuple[int, UnitSpec]] = []
    errors: list[RowError] = []
    for line, row in read_rows(data, required=UNIT_CSV_COLUMNS, optional=UNIT_CSV_OPTIONAL):
        try:
            kind = UnitKind(row["kind"].lower())
        except ValueError:
            errors.append(row_error(line, N_("unknown unit kind %(kind)s"), kind=row["kind"]))
            continue
        spec = UnitSpec(
            code=row["code"],
            name=row["name"],
            kind=kind,
            parent_code=row["parent_code"] or None,
            name_hi=row.get("name_hi") or None,
        )
        try:
            _check_spec(spec)
        except ValidationFailed as error:
            errors.append(RowError(line, SPEC_TEXTS.get(error.code, error.detail)))
            continue
        specs.append((line, spec))
    return specs, errors


def _find_cycles(by_code: dict[str, tuple[int, UnitSpec]]) -> list[RowError]:
    """Rows whose chain of parents (within the file) comes back to themselves."""
    errors = []
    for code, (line, _spec) in by_code.items():
        seen = {code}
        parent = by_code[code][1].parent_code
        while parent is not None and parent in by_code:
            if parent in seen:
                errors.append(
                    row_error(line, N_("unit %(code)s is part of a cycle of parents"), code=code)
                )
                break
            seen.add(parent)
            parent = by_code[parent][1].parent_code
    return errors


def _parents_first(by_code: dict[str, tuple[int, UnitSpec]]) -> list[UnitSpec]:
    ordered: list[UnitSpec] = []
    placed: set[str] = set()

    def place(code: str) -> None:
        if code in placed:
            return
        spec = by_code[code][1]
        if spec.parent_code is not None and spec.parent_code in by_code:
            place(spec.parent_code)
        placed.add(code)
        ordered.append(spec)

    for code in by_code:
        place(code)
    return ordered


def reach(*, session: Session, unit_id: int) -> tuple[frozenset[int], frozenset[int]]:
    """(units strictly above, units strictly below) ``unit_id``, in one query."""
    rows = session.execute(
        select(UnitClosure.ancestor_id, UnitClosure.descendant_id).where(
            (UnitClosure.descendant_id == unit_id) | (UnitClosure.ancestor_id == unit_id),
            UnitClosure.depth > 0,
        )
    ).all()
    above = frozenset(a for a, d in rows if d == unit_id)
    below = frozenset(d for a, d in rows if a == unit_id)
    return above, below


def get_by_id(*, session: Session, unit_id: int | None) -> Unit | None:
    """The unit with this id, or None (for a parent that an HQ does not have)."""
    return session.get(Unit, unit_id) if unit_id is not None else None


def by_ids(*, session: Session, unit_ids: Iterable[int]) -> dict[int, Unit]:
    """The units with these ids, in one query."""
    wanted = sorted(set(unit_ids))
    if not wanted:
        return {}
    return {unit.id: unit for unit in session.scalars(select(Unit).where(Unit.id.in_(wanted)))}
