"""The audit log as sentences: "SI Ravi Sharma downloaded FIR 45.pdf", in the reader's language.

One catalogue text per action kind (``SENTENCES``), with ``%(actor)s`` and ``%(object)s`` (and,
for a few, ``%(other)s``: the member added, the query searched for). The names are resolved for
a whole page at once (:func:`names_for`: one query for the people, one for the files and
folders, one for the units and one for the groups, whatever the number of rows), never row by
row. An action without a sentence shows its code; a refused action says it was refused. The raw
record stays one click away ("More") and in the export: the sentence is a reading aid, the
record is the evidence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit.models import AuditRecord
from polaris.drive import repo as drive_repo
from polaris.identity import units, users
from polaris.identity.models import UserGroup
from polaris.web.messages import N_

#: The action searches are recorded with: most rows of a busy log, hidden unless asked for.
SEARCH_ACTION = "search.query"

SENTENCES = {
    "auth.login": N_("%(actor)s signed in"),
    "auth.logout": N_("%(actor)s signed out"),
    "auth.session_end": N_("%(actor)s's session ended"),
    "auth.password_change": N_("%(actor)s changed their password"),
    "auth.mfa_enrol_begin": N_("%(actor)s began setting up a second factor"),
    "auth.mfa_enrolled": N_("%(actor)s set up a second factor"),
    "auth.throttled_summary": N_("Sign-in attempts were slowed down after repeated failures"),
    "file.read": N_("%(actor)s downloaded %(object)s"),
    "file.preview": N_("%(actor)s viewed a preview of %(object)s"),
    "file.create": N_("%(actor)s uploaded %(object)s"),
    "file.write": N_("%(actor)s saved a new version of %(object)s"),
    "file.restore_version": N_("%(actor)s restored an old version of %(object)s"),
    "file.delete_version": N_("%(actor)s deleted a version of %(object)s"),
    "file.expire_version": N_("An old version of %(object)s expired under retention"),
    "folder.create": N_("%(actor)s created the folder %(object)s"),
    "node.rename": N_("%(actor)s renamed %(object)s"),
    "node.move": N_("%(actor)s moved %(object)s"),
    "node.copy": N_("%(actor)s copied %(object)s"),
    "node.trash": N_("%(actor)s moved %(object)s to the trash"),
    "node.restore": N_("%(actor)s restored %(object)s from the trash"),
    "node.purge": N_("%(actor)s deleted %(object)s for good"),
    "node.classify": N_("%(actor)s changed the classification of %(object)s"),
    "node.hold": N_("%(actor)s placed a legal hold on %(object)s"),
    "node.release": N_("%(actor)s lifted the legal hold on %(object)s"),
    "share.create": N_("%(actor)s shared %(object)s"),
    "share.revoke": N_("%(actor)s stopped sharing %(object)s"),
    "search.query": N_("%(actor)s searched for “%(other)s”"),
    "user.create": N_("%(actor)s created the account of %(object)s"),
    "user.update": N_("%(actor)s changed the details of %(object)s"),
    "user.move": N_("%(actor)s transferred %(object)s to another unit"),
    "user.disable": N_("%(actor)s disabled the account of %(object)s"),
    "user.enable": N_("%(actor)s enabled the account of %(object)s"),
    "user.reset_password": N_("%(actor)s reset the password of %(object)s"),
    "user.reset_mfa": N_("%(actor)s removed the second factor of %(object)s"),
    "user.import": N_("%(actor)s imported users"),
    "user.import_queued": N_("%(actor)s started a user import"),
    "user.import_passwords_taken": N_("%(actor)s took the first passwords of an import"),
    "unit.create": N_("%(actor)s created the unit %(object)s"),
    "unit.update": N_("%(actor)s renamed the unit %(object)s"),
    "unit.move": N_("%(actor)s moved the unit %(object)s under another unit"),
    "unit.import": N_("%(actor)s imported units"),
    "group.create": N_("%(actor)s created the group %(object)s"),
    "group.add_member": N_("%(actor)s added %(other)s to the group %(object)s"),
    "group.remove_member": N_("%(actor)s removed %(other)s from the group %(object)s"),
    "token.create": N_("%(actor)s created an API token"),
    "token.revoke": N_("%(actor)s revoked an API token"),
    "app_password.create": N_("%(actor)s created an app password"),
    "app_password.revoke": N_("%(actor)s revoked an app password"),
    "guard.freeze": N_("The ransomware guard froze the writes of %(object)s"),
    "guard.unfreeze": N_("%(actor)s unfroze the writes of %(object)s"),
    "guard.restore": N_("%(actor)s restored the files of %(object)s"),
    "content.release": N_("%(actor)s released a held file"),
    "content.delete": N_("%(actor)s deleted a quarantined file for good"),
    "audit.verify": N_("%(actor)s checked the audit log"),
    "storage.verify": N_("%(actor)s checked the stored files"),
    "chat_room.create": N_("%(actor)s created a conversation"),
    "chat_room.broadcast": N_("%(actor)s sent a broadcast"),
}
#: A refused action of any kind: what was refused is the record's action code.
REFUSED = N_("%(actor)s was refused: %(action)s on %(object)s")
#: An action with no sentence yet.
UNKNOWN = N_("%(actor)s: %(action)s on %(object)s")
SOMEONE = N_("The system")


@dataclass(frozen=True)
class Sentence:
    """A record's sentence: the catalogue text and its values (names, not yet translated)."""

    text: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class Names:
    """The names a page of records mentions, each kind read in one query."""

    users: Mapping[str, str]
    nodes: Mapping[str, str]
    units: Mapping[str, str]
    units_hi: Mapping[str, str]
    groups: Mapping[str, str]


def _detail(record: AuditRecord) -> dict[str, object]:
    try:
        parsed = json.loads(record.detail) if record.detail else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _ids(values: Iterable[object]) -> list[int]:
    return sorted({int(v) for v in values if isinstance(v, (int, str)) and str(v).isdigit()})


def names_for(session: Session, records: Iterable[AuditRecord]) -> Names:
    """Every name ``records`` mention: actors and user objects (rank and full name), files and
    folders, units and groups. Four queries at most, however many records."""
    rows = list(records)
    user_ids: list[object] = [r.actor_id for r in rows]
    user_ids += [r.object_id for r in rows if r.object_type == "user"]
    user_ids += [_detail(r).get("user_id") for r in rows if r.object_type == "group"]
    people = users.by_ids(session=session, user_ids=_ids(user_ids))
    nodes = drive_repo.nodes_by_id(
        session, _ids(r.object_id for r in rows if r.object_type == "node")
    )
    unit_ids = set(_ids(r.object_id for r in rows if r.object_type == "unit"))
    found_units = units.by_ids(session=session, unit_ids=unit_ids)
    group_ids = _ids(r.object_id for r in rows if r.object_type == "group")
    groups: dict[int, str] = {}
    if group_ids:
        query = select(UserGroup.id, UserGroup.name).where(UserGroup.id.in_(group_ids))
        groups = {group_id: name for group_id, name in session.execute(query)}
    return Names(
        users={
            str(p.id): f"{p.rank} {p.full_name}" if p.rank else p.full_name for p in people.values()
        },
        nodes={str(n.id): n.name for n in nodes.values()},
        units={str(u.id): u.name for u in found_units.values()},
        units_hi={str(u.id): u.name_hi for u in found_units.values() if u.name_hi},
        groups={str(k): v for k, v in groups.items()},
    )


def sentence(record: AuditRecord, names: Names, *, language: str) -> Sentence:
    """The sentence for one record: who, what, about what, with names in place of numbers."""
    actor = names.users.get(record.actor_id or "") or record.actor_name or ""
    values = {
        "actor": actor,
        "object": _object_name(record, names, language),
        "action": record.action,
        "other": _other(record, names),
    }
    if record.decision == "deny":
        return Sentence(REFUSED, values)
    return Sentence(SENTENCES.get(record.action, UNKNOWN), values)


def _object_name(record: AuditRecord, names: Names, language: str) -> str:
    key = record.object_id or ""
    by_kind: dict[str, Callable[[], str | None]] = {
        "user": lambda: names.users.get(key),
        "node": lambda: names.nodes.get(key),
        "unit": lambda: (
            (names.units_hi.get(key) if language == "hi" else None) or names.units.get(key)
        ),
        "group": lambda: names.groups.get(key),
    }
    found = by_kind.get(record.object_type or "", lambda: None)()
    if found:
        return found
    if record.object_type and key:
        return f"{record.object_type} {key}"
    return record.object_type or "—"


def _other(record: AuditRecord, names: Names) -> str:
    detail = _detail(record)
    if record.action == SEARCH_ACTION:
        return str(detail.get("query", ""))
    user_id = detail.get("user_id")
    if user_id is not None:
        return names.users.get(str(user_id), f"user {user_id}")
    return ""
