"""The roles a new instance starts with. Roles are rows, so an administrator can change them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.identity.models import Role

ALL_ACTIONS = ["read", "write", "delete", "share", "classify", "declassify"]
# Heads of units (station head and above) lower classifications, ``declassify``, over all they
# reach: their own unit and, for supervisors, the units below (``access.policy`` rule 7).


@dataclass(frozen=True)
class RoleTemplate:
    code: str
    name: str
    name_hi: str
    rank_order: int
    unit_actions: tuple[str, ...]
    subtree_actions: tuple[str, ...] = ()
    requires_mfa: bool = False
    is_admin: bool = False
    max_clearance: int = 3


DEFAULT_ROLES: tuple[RoleTemplate, ...] = (
    RoleTemplate("constable", "Constable", "आरक्षक", 10, ("read",), max_clearance=1),
    RoleTemplate(
        "head_constable", "Head Constable", "प्रधान आरक्षक", 20, ("read", "write"), max_clearance=1
    ),
    RoleTemplate(
        "sub_inspector",
        "Sub-Inspector / Investigating Officer",
        "उप निरीक्षक / विवेचक",
        30,
        ("read", "write", "share"),
        max_clearance=2,
    ),
    RoleTemplate(
        "records_clerk", "Records Clerk", "अभिलेख लिपिक", 25, ("read", "write"), max_clearance=2
    ),
    RoleTemplate(
        "station_head",
        "Station House Officer (SHO)",
        "थाना प्रभारी",
        40,
        tuple(ALL_ACTIONS),
        requires_mfa=True,
    ),
    RoleTemplate(
        "subdivision_head",
        "Sub-Divisional Officer (SDOP/ACP)",
        "अनुविभागीय अधिकारी",
        50,
        tuple(ALL_ACTIONS),
        ("read", "declassify"),
        requires_mfa=True,
    ),
    RoleTemplate(
        "district_head",
        "Superintendent of Police (SP)",
        "पुलिस अधीक्षक",
        60,
        tuple(ALL_ACTIONS),
        ("read", "share", "declassify"),
        requires_mfa=True,
    ),
    RoleTemplate(
        "range_head",
        "Range Head (IG/DIG)",
        "रेंज प्रमुख (आईजी/डीआईजी)",
        70,
        tuple(ALL_ACTIONS),
        ("read", "declassify"),
        requires_mfa=True,
    ),
    RoleTemplate(
        "hq_head",
        "Director General of Police (DGP)",
        "पुलिस महानिदेशक",
        80,
        tuple(ALL_ACTIONS),
        ("read", "declassify"),
        requires_mfa=True,
    ),
    RoleTemplate(
        "admin", "Administrator", "प्रशासक", 90, ("read",), requires_mfa=True, is_admin=True
    ),
)


def ensure_default_roles(session: Session) -> None:
    """Create the default roles that do not exist yet; never change an existing one."""
    existing = set(session.scalars(select(Role.code)).all())
    for template in DEFAULT_ROLES:
        if template.code in existing:
            continue
        session.add(
            Role(
                code=template.code,
                name=template.name,
                name_hi=template.name_hi,
                rank_order=template.rank_order,
                unit_actions=list(template.unit_actions),
                subtree_actions=list(template.subtree_actions),
                requires_mfa=template.requires_mfa,
                is_admin=template.is_admin,
                max_clearance=template.max_clearance,
            )
        )
    session.flush()


def list_roles(*, session: Session) -> list[Role]:
    """Every role, lowest rank first."""
    return list(session.scalars(select(Role).order_by(Role.rank_order, Role.code)))
