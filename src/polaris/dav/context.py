"""What one WebDAV request carries: the instance, its database session, who is asking, and the
spaces they see (read once per request, as folders of the top level)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.db.uow import transaction
from polaris.drive import spaces as drive_spaces
from polaris.drive.fields import SpaceFields
from polaris.drive.names import repair_name
from polaris.drive.paths import Located, Permissions
from polaris.instance import Instance

ENVIRON_KEY = "polaris.dav"
T = TypeVar("T")


@dataclass
class DavRequest:
    instance: Instance
    session: Session
    actor: Actor
    context: AuditContext
    #: Resources found by path in this request (WsgiDAV asks for the same path several times);
    #: emptied by every write.
    found: dict[str, Any] = field(default_factory=dict)
    #: The node last written by this request (a PUT), for its ``OC-ETag`` and ``OC-FileId``.
    written: Located | None = None
    mtime_accepted: bool = False
    #: What others shared with the caller, by the name it has under ``Shared with me``
    #: (``dav.shared_root``), read once per request.
    shared: dict[str, Located] | None = None
    _spaces: dict[str, SpaceFields] | None = None
    _permissions: Permissions | None = None

    def permissions(self) -> Permissions:
        """What the caller may do with nodes, decided once per kind of node (``oc:permissions``)."""
        if self._permissions is None:
            self._permissions = Permissions(self.actor)
        return self._permissions

    @property
    def username(self) -> str:
        return self.actor.username

    def spaces(self) -> dict[str, SpaceFields]:
        """The spaces the caller sees, by the folder name they have here (``folder_names``)."""
        if self._spaces is None:
            with transaction(self.session, read_only=True, hold=True):
                found = drive_spaces.existing_visible_space_rows(
                    session=self.session, actor=self.actor
                )
            if found is None:  # a space never used before is made now
                with transaction(self.session):
                    found = list(
                        drive_spaces.visible_spaces(
                            session=self.session,
                            actor=self.actor,
                            defaults=drive_spaces.space_defaults(self.instance.settings),
                        )
                    )
            self._spaces = folder_names(found)
        return self._spaces

    def changed(self) -> None:
        self.found.clear()
        self.shared = None


def folder_names(spaces: list[SpaceFields]) -> dict[str, SpaceFields]:
    """Each space under a name valid for a node (a unit's name may hold a ``/``); two spaces of
    one name are told apart by their id, the one that has the name the longest keeping it."""
    taken: set[str] = set()
    names: dict[int, str] = {}
    for space in sorted(spaces, key=lambda s: s.id):
        name, _ = repair_name(space.name)
        if name.casefold() in taken:
            name = f"{name} ({space.id})"
        taken.add(name.casefold())
        names[space.id] = name
    return {names[space.id]: space for space in spaces}  # in the drive's order: own space first


def of(environ: dict[str, Any]) -> DavRequest:
    request: DavRequest = environ[ENVIRON_KEY]
    return request
