"""The SQL of shares: a share by id, the shares on nodes, the shares that reach someone, the shares
someone made. Functions take the session first and never commit, like ``drive.repo``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from polaris.drive.models import Share

#: Unrevoked shares on some nodes, built once (a folder page asks for those of its 100 rows).
_SHARES_ON = (
    select(Share)
    .where(Share.node_id.in_(bindparam("ids", expanding=True)), Share.revoked_at.is_(None))
    .order_by(Share.id)
)
_LIVE_SHARES_ON = _SHARES_ON.where(
    or_(Share.expires_at.is_(None), Share.expires_at > bindparam("now"))
)


def shares_on(
    session: Session, node_ids: Sequence[int], *, now: dt.datetime | None = None
) -> list[Share]:
    """Unrevoked shares on any of ``node_ids`` (expired ones too unless ``now`` is given)."""
    if not node_ids:
        return []
    if now is None:
        return list(session.scalars(_SHARES_ON, {"ids": list(node_ids)}).all())
    return list(session.scalars(_LIVE_SHARES_ON, {"ids": list(node_ids), "now": now}).all())


def get_share(session: Session, share_id: int) -> Share | None:
    return session.get(Share, share_id)


def live_shares_of(session: Session, node_id: int) -> list[Share]:
    return list(
        session.scalars(
            select(Share)
            .where(Share.node_id == node_id, Share.revoked_at.is_(None))
            .order_by(Share.id)
        ).all()
    )


def shares_reaching(
    session: Session,
    *,
    user_id: int,
    unit_id: int,
    ancestor_unit_ids: Iterable[int],
    group_ids: Iterable[int],
    now: dt.datetime,
) -> list[Share]:
    """Unrevoked, unexpired shares to the user, their unit (or a unit above that includes the
    units below), or one of their groups; newest first."""
    units_reached = or_(
        Share.subject_id == unit_id,
        and_(
            Share.include_subunits.is_(True),
            Share.subject_id.in_(sorted(ancestor_unit_ids) or [-1]),
        ),
    )
    subject = or_(
        and_(Share.subject_type == "user", Share.subject_id == user_id),
        and_(Share.subject_type == "unit", units_reached),
        and_(Share.subject_type == "group", Share.subject_id.in_(sorted(group_ids) or [-1])),
    )
    return list(
        session.scalars(
            select(Share)
            .where(
                subject,
                Share.revoked_at.is_(None),
                or_(Share.expires_at.is_(None), Share.expires_at > now),
            )
            .order_by(Share.created_at.desc(), Share.id.desc())
        ).all()
    )


def shares_ever_on(session: Session, node_ids: Sequence[int]) -> list[Share]:
    """Every share on these nodes, revoked and expired ones too (what was in effect once)."""
    if not node_ids:
        return []
    return list(
        session.scalars(select(Share).where(Share.node_id.in_(node_ids)).order_by(Share.id))
    )


def shares_by_id(session: Session, ids: Sequence[int]) -> dict[int, Share]:
    if not ids:
        return {}
    return {share.id: share for share in session.scalars(select(Share).where(Share.id.in_(ids)))}


def shares_created_by(session: Session, user_id: int) -> list[Share]:
    return list(
        session.scalars(
            select(Share)
            .where(Share.created_by == user_id, Share.revoked_at.is_(None))
            .order_by(Share.created_at.desc(), Share.id.desc())
        ).all()
    )
