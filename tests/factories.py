"""Builders for test data: a small unit tree, users, and a cheap but real password hasher."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from polaris.access.policy import Classification
from polaris.audit.context import AuditContext
from polaris.identity import roles, units, users
from polaris.identity.auth import AuthConfig
from polaris.identity.models import User
from polaris.identity.passwords import Argon2Parameters, Passwords
from polaris.identity.throttle import ThrottlePolicy
from polaris.identity.units import UnitKind, UnitSpec

# Real argon2id, with a small memory cost so the suite stays fast (production: >= 46 MiB).
FAST_PASSWORDS = Passwords(Argon2Parameters(memory_kib=1024, time_cost=1, parallelism=1))
SYSTEM = AuditContext.system("test")
PASSWORD = "correct horse battery staple"

# PHQ
# ├── RNG-A ── DST-A ── SDV-A ─┬── PS-A1
# │                            └── PS-A2
# └── RNG-B ── DST-B ── SDV-B ──── PS-B1
TREE = [
    ("PHQ", UnitKind.HQ, None),
    ("RNG-A", UnitKind.RANGE, "PHQ"),
    ("DST-A", UnitKind.DISTRICT, "RNG-A"),
    ("SDV-A", UnitKind.SUBDIVISION, "DST-A"),
    ("PS-A1", UnitKind.STATION, "SDV-A"),
    ("PS-A2", UnitKind.STATION, "SDV-A"),
    ("RNG-B", UnitKind.RANGE, "PHQ"),
    ("DST-B", UnitKind.DISTRICT, "RNG-B"),
    ("SDV-B", UnitKind.SUBDIVISION, "DST-B"),
    ("PS-B1", UnitKind.STATION, "SDV-B"),
]


def auth_config(**overrides: object) -> AuthConfig:
    values: dict[str, object] = {
        "passwords": FAST_PASSWORDS,
        "throttle": ThrottlePolicy(),
        "idle_timeout": dt.timedelta(minutes=30),
        "absolute_timeout": dt.timedelta(hours=12),
        "mfa_key": b"k" * 32,
        "issuer": "Polaris test",
    }
    values.update(overrides)
    return AuthConfig(**values)  # type: ignore[arg-type]


def build_tree(session: Session) -> dict[str, int]:
    """The tree above, with the default roles. Returns unit ids by code."""
    roles.ensure_default_roles(session)
    ids = {}
    for code, kind, parent in TREE:
        unit = units.create_unit(
            session=session, spec=UnitSpec(code, f"Unit {code}", kind, parent), context=SYSTEM
        )
        ids[code] = unit.id
    return ids


def make_user(
    session: Session,
    username: str,
    *,
    unit: str = "PS-A1",
    role: str = "constable",
    clearance: Classification | None = None,
    password: str = PASSWORD,
) -> User:
    created = users.create_user(
        session=session,
        spec=users.UserSpec(
            username=username,
            full_name=username.title(),
            unit_code=unit,
            role=role,
            clearance=clearance,
            password=password,
        ),
        passwords=FAST_PASSWORDS,
        context=SYSTEM,
    )
    return created.user


HANDED_OVER = "handed over at the desk"


def hand_over_password(sessions: sessionmaker[Session], username: str) -> str:
    """An administrator resets ``username``'s password to a known one (a change is then due at
    the next sign-in); returns it."""
    with sessions() as session:
        users.reset_password(
            session=session,
            username=username,
            passwords=FAST_PASSWORDS,
            context=SYSTEM,
            new_password=HANDED_OVER,
        )
        session.commit()
    return HANDED_OVER
