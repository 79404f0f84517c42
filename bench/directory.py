"""The directory's picker over 100,000 users and 1,050 units, the unread count, and the fan-out of
one share to a unit with the units below it (every user), on a scratch database.

    PYTHONPATH=src python bench/directory.py sqlite:////tmp/directory.db
    PYTHONPATH=src python bench/directory.py postgresql+psycopg://postgres@127.0.0.1:5432/test

On PostgreSQL it works in a schema of its own (``i14perf``), dropped and made again each run.
Figures: docs/performance.md, "The directory's picker".
"""

import statistics
import sys
import time

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from polaris.access.policy import Actor, Classification
from polaris.clock import utcnow
from polaris.db import make_engine
from polaris.db.migrate import upgrade
from polaris.drive.models import Share
from polaris.identity import roles, suggest
from polaris.identity.models import Unit, UnitClosure, User
from polaris.notifications import repo
from polaris.notifications.shares import recipients

url = sys.argv[1]
engine = make_engine(url)
if url.startswith("postgresql"):
    with engine.begin() as c:
        c.execute(text("DROP SCHEMA IF EXISTS i14perf CASCADE; CREATE SCHEMA i14perf"))
    engine = make_engine(url + "?options=-csearch_path%3Di14perf")
upgrade(engine)
now = utcnow()
with Session(engine) as s:
    roles.ensure_default_roles(s)
    s.flush()
    s.execute(
        insert(Unit),
        [
            {
                "id": 1,
                "code": "PHQ",
                "name": "Police HQ",
                "name_hi": "पुलिस मुख्यालय",
                "kind": "hq",
                "parent_id": None,
                "created_at": now,
            }
        ],
    )
    units = [
        {
            "id": i,
            "code": f"PS-{i:04d}",
            "name": f"Kotwali Bazar {i}",
            "name_hi": f"कोतवाली बाज़ार {i}",
            "kind": "station",
            "parent_id": 1,
            "created_at": now,
        }
        for i in range(2, 1052)
    ]
    s.execute(insert(Unit), units)
    closure = [{"ancestor_id": 1, "descendant_id": 1, "depth": 0}] + [
        row
        for i in range(2, 1052)
        for row in (
            {"ancestor_id": i, "descendant_id": i, "depth": 0},
            {"ancestor_id": 1, "descendant_id": i, "depth": 1},
        )
    ]
    s.execute(insert(UnitClosure), closure)
    names = ["शर्मा", "यादव", "Singh", "Verma", "ख़ान", "Gupta", "मिश्रा", "Patel"]
    firsts = ["राजेश", "Ramesh", "सुनील", "Anil", "फ़ैज़", "Mohan", "Sita", "Kavita"]
    ranks = ["HC", "SI", "ASI", "Constable", "Inspector"]
    users = [
        {
            "username": f"user{i:06d}",
            "full_name": f"{firsts[i % 8]} {names[(i // 8) % 8]} {i}",
            "rank": ranks[i % 5],
            "unit_id": 2 + i % 1050,
            "role_code": "constable",
            "clearance": 1,
            "must_change_password": False,
            "created_at": now,
        }
        for i in range(100_000)
    ]
    for start in range(0, len(users), 10_000):
        s.execute(insert(User), users[start : start + 10_000])
    s.commit()
actor = Actor(
    user_id=1,
    username="user000000",
    unit_id=2,
    role_code="constable",
    clearance=Classification.RESTRICTED,
)
queries = ["शर्मा", "sharma", "बाजार 17", "ps-0420", "SI यादव कोतवाली", "user0999", "xyz-none", "फ़ैज़"]
print(url.split(":")[0])
for q in queries:
    times = []
    with Session(engine) as s:
        for _ in range(7):
            t = time.perf_counter()
            found = suggest.suggest(session=s, actor=actor, query=q, language="hi")
            times.append((time.perf_counter() - t) * 1000)
    print(
        f"suggest {q!r}: {len(found)} found, "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms"
    )
# fan-out: a unit share with subunits = every user
with Session(engine) as s:
    share = Share(
        node_id=1,
        subject_type="unit",
        subject_id=1,
        permission="read",
        include_subunits=True,
        created_by=None,
        created_at=now,
    )
    t = time.perf_counter()
    repo.add_for_users(
        s,
        recipients(share),
        kind="share.granted",
        subject=("node", 1),
        source_id=1,
        actor_id=None,
        min_clearance=0,
        now=now,
    )
    s.flush()
    print(f"fan-out to every user: {(time.perf_counter() - t) * 1000:.0f} ms")
    t = time.perf_counter()
    repo.add_for_users(
        s,
        recipients(share),
        kind="share.granted",
        subject=("node", 1),
        source_id=1,
        actor_id=None,
        min_clearance=0,
        now=now,
    )
    print(f"same share again (nobody told twice): {(time.perf_counter() - t) * 1000:.0f} ms")
    times = []
    for uid in range(1, 200):
        t = time.perf_counter()
        repo.unread_count(s, uid)
        times.append((time.perf_counter() - t) * 1000)
    print(f"unread count: median {statistics.median(times):.2f} ms")
    s.rollback()
