"""Recovery without the database: read the blob store, plan, and rebuild a fresh instance's rows.

``polaris recover`` (``cli/recover_cmd.py``) makes the empty instance (keys, settings, schema) and
calls :func:`read_store`, :func:`plan_recovery` and :func:`rebuild` here. What comes back, and
what cannot (docs/operations.md, "Recovery without the database"):

* spaces, folders, files and every version's content, names, times, types and levels, files at
  their latest place (placement records) and trashed ones in the trash;
* node and space ids, and the ids of the units and accounts that owned spaces, as placeholders
  (``identity.placeholders``); whoever made a version is unknown: the recovery's administrator;
* not: accounts and passwords, the unit hierarchy, groups, shares, legal holds, retention rules,
  scan verdicts, sessions, the audit log (it lived in the database; the new log starts with the
  recovery itself, ``instance.recover``), the search index and previews (rebuilt by the workers
  from the events the rebuild appends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from polaris import events
from polaris.admin.recovery_plan import Plan, PlannedSpace
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.db.sequences import follow_explicit_ids
from polaris.db.uow import unit_of_work
from polaris.drive import placements
from polaris.drive.names import shown
from polaris.drive.recovery import Rebuild
from polaris.errors import IntegrityError
from polaris.identity import placeholders, users
from polaris.identity.models import Unit
from polaris.instance import Instance
from polaris.storage import names
from polaris.storage.manifest import Manifest
from polaris.storage.placement import Placement
from polaris.storage.store import BlobStore

#: ``progress(stage, done, total)``; total None while unknown.
Progress = Callable[[str, int, int | None], None]


@dataclass
class StoreContents:
    manifests: list[Manifest] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    #: What could not be read, one line each (these are problems of the recovery's report).
    unreadable: list[str] = field(default_factory=list)


def read_store(store: BlobStore, progress: Progress | None = None) -> StoreContents:
    """Every manifest and every node's newest readable placement record, authenticated."""
    found = StoreContents()
    total = sum(1 for _ in store.iter_manifest_ids())
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress("reading manifests", done, total)

    def unreadable_manifest(manifest_id: str, error: IntegrityError) -> None:
        reason = error.detail.removeprefix(f"manifest {manifest_id}: ")
        found.unreadable.append(
            f"{names.manifest_name(manifest_id)}: {reason}; the file version it describes "
            "(name, place, content) is unknown: not recovered"
        )
        step()

    def unreadable_record(name: str, error: IntegrityError) -> None:
        found.unreadable.append(
            f"{error.detail}; passed over (the node's older record or its manifests used)"
        )

    for manifest in store.iter_manifests(on_error=unreadable_manifest):
        found.manifests.append(manifest)
        step()
    for placement in store.iter_latest_placements(on_error=unreadable_record):
        found.placements.append(placement)
        if progress is not None:
            progress("reading placement records", len(found.placements), None)
    return found


@dataclass(frozen=True)
class Rebuilt:
    admin_username: str
    admin_password: str
    #: Placeholder units and (disabled) accounts made for the spaces' lost owners.
    placeholder_units: int
    placeholder_accounts: int
    #: Placement records written for the rebuilt tree (where it differs from the store's).
    placements_written: int
    notes: list[str]


def rebuild(
    instance: Instance,
    plan: Plan,
    *,
    admin: str,
    context: AuditContext,
    source: str,
    problems: int,
    progress: Progress | None = None,
) -> Rebuilt:
    """Insert the planned drive into the instance's empty database, in one transaction; then
    write the placement records of the tree as rebuilt, so a second recovery finds the same."""
    notes: list[str] = []
    with unit_of_work(instance.sessions) as session:
        owners = _owners(session, plan, context, notes, admin=users.normalise_username(admin))
        follow_explicit_ids(session, ["unit", "user_account"])
        created = users.create_user(
            session=session,
            spec=users.UserSpec(
                username=admin,
                full_name="Recovery administrator",
                unit_code=placeholders.RECOVERED_CODE,
                role="admin",
            ),
            passwords=instance.auth.passwords,
            context=context,
        )
        rows = Rebuild(session, created_by=created.user.id)
        now = utcnow()
        for space in sorted(plan.spaces.values(), key=lambda s: s.id):
            kind, unit_id, owner_id = owners[space.id]
            rows.space(
                space_id=space.id,
                kind=kind,
                name=space.name,
                unit_id=unit_id,
                owner_id=owner_id,
                level=space.level,
                quota_bytes=space.quota_bytes,
                root_id=space.root_id,
                now=now,
            )
        for done, node in enumerate(plan.nodes, start=1):
            assert node.parent_id is not None
            rows.node(
                node_id=node.id,
                parent_id=node.parent_id,
                kind=node.kind,
                name=node.name,
                level=node.level,
                created_at=node.created_at,
                trashed_at=node.trashed_at,
                versions=node.versions,
            )
            if progress is not None:
                progress("rebuilding folders and files", done, len(plan.nodes))
        rows.finish()
        follow_explicit_ids(session, ["space", "node", "file_version"])
        # Records already in the store carry the old stream's positions: ours come after.
        events.continue_after(session, plan.generation + 1)
        audit.append(
            session=session,
            context=context,
            action="instance.recover",
            object_type="instance",
            detail={
                "source": source,
                "spaces": len(plan.spaces),
                "folders": sum(1 for n in plan.nodes if n.kind == "folder"),
                "files": sum(1 for n in plan.nodes if n.kind == "file"),
                "versions": plan.versions,
                "problems": problems,
                "administrator": created.user.username,
            },
        )
        password = created.initial_password
        username = created.user.username
    assert password is not None
    # A record for every node the manifests alone would not put where it now is (folders, what
    # went to lost+found, repaired names, files placed by path), at the new head: one fsync'd
    # object each, so not for the many files their manifest places.
    wanted = sorted(node.id for node in plan.nodes if not node.placed_by_manifest)
    head = plan.generation + 1
    written = looked = 0
    with instance.sessions() as session:
        for piece in _pieces(wanted):
            written += placements.write_placements(
                session, instance.blobs, dict.fromkeys(piece, head)
            )
            looked += len(piece)
            if progress is not None:
                progress("writing placement records", looked, len(wanted))
    return Rebuilt(
        admin_username=username,
        admin_password=password,
        placeholder_units=sum(1 for _, unit, _ in owners.values() if unit is not None),
        placeholder_accounts=sum(1 for _, _, owner in owners.values() if owner is not None),
        placements_written=written,
        notes=notes,
    )


Owner = tuple[str, int | None, int | None]  # space kind, unit id, owner id


def _pieces(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _owners(
    session: Session, plan: Plan, context: AuditContext, notes: list[str], *, admin: str
) -> dict[int, Owner]:
    """A placeholder unit or account for each space's lost owner, under one RECOVERED unit."""
    wanted = [s.unit_id for s in plan.spaces.values() if s.kind == "unit" and s.unit_id]
    next_unit = iter(range(max(wanted, default=0) + 1, 2**31))
    top = placeholders.recovered_unit(session, unit_id=next(next_unit), context=context)
    owners: dict[int, Owner] = {}
    for space in sorted(plan.spaces.values(), key=lambda s: s.id):
        owners[space.id] = _owner(session, space, top, next_unit, context, notes, admin)
    return owners


def _owner(
    session: Session,
    space: PlannedSpace,
    top: Unit,
    next_unit: Iterator[int],
    context: AuditContext,
    notes: list[str],
    admin: str,
) -> Owner:
    if space.kind == "user" and space.owner_id is not None:
        user = placeholders.placeholder_user(
            session, user_id=space.owner_id, username=space.name, unit=top, context=context,
            reserved={admin},
        )  # fmt: skip
        return "user", None, user.id
    if space.kind == "unit" and space.unit_id is not None:
        unit_id = space.unit_id
    else:
        unit_id = next(next_unit)
        notes.append(
            f"space {shown(space.name)} ({space.id}, kind {space.kind}) recovered as the space of "
            f"placeholder unit {placeholders.RECOVERED_CODE}-{unit_id}"
        )
    unit = placeholders.placeholder_unit(
        session, unit_id=unit_id, name=space.name, parent=top, context=context
    )
    return "unit", unit.id, None
