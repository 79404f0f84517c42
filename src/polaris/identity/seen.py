"""When a session or an API token was last used: written at most once a minute, apart.

A session's idle timeout counts from ``user_session.last_seen_at``; administrators see when a
token was last used (``api_token.last_used_at``). Resolving the caller of a request only reads
(``polaris.deps``: a read-only transaction, which takes no write lock on SQLite); when one of
these times is due, the resolution returns a :class:`Touch`, which the caller applies in a short
write transaction of its own. So a request writes for its caller at most once a minute per
session or token, not on every request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from polaris.identity.models import ApiToken, UserSession

#: The last-seen time is kept to this resolution: at most one write per session or token per
#: minute. The idle timeout (30 minutes by default) is counted from it.
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)


def due(last: dt.datetime | None, now: dt.datetime) -> bool:
    return last is None or now - last >= LAST_SEEN_RESOLUTION


@dataclass(frozen=True)
class Touch:
    """A last-seen time to record: the session (by its id, the token's hash) or the API token."""

    kind: Literal["session", "token"]
    row_id: str | int
    at: dt.datetime

    def apply(self, session: Session) -> None:
        """One ``UPDATE``, in the caller's write transaction; never moves the time backwards (two
        requests of one session may both find it due)."""
        if self.kind == "session":
            query = (
                update(UserSession)
                .where(UserSession.id == self.row_id, UserSession.last_seen_at < self.at)
                .values(last_seen_at=self.at)
            )
        else:
            last = ApiToken.last_used_at
            query = (
                update(ApiToken)
                .where(ApiToken.id == self.row_id, last.is_(None) | (last < self.at))
                .values(last_used_at=self.at)
            )
        session.execute(query.execution_options(synchronize_session=False))
