"""A user's search on each engine and each database, with an index that lags the database (its
jobs not run yet): what changed in the database since decides the total, the pages and the
highlights, never what the index still believes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor, Classification
from polaris.drive import classifying, service, shares, spaces, trash
from polaris.drive import indexing as drive_index
from polaris.identity.actors import actor_for
from polaris.identity.models import Unit, User
from polaris.search import querying
from polaris.search.indexing import document_of
from polaris.search.interface import SearchEngine, SearchPage, SearchQuery
from tests.factories import SYSTEM, build_tree, make_user

DEFAULTS = spaces.SpaceDefaults()


def actor(session: Session, username: str) -> Actor:
    user = session.scalars(select(User).where(User.username == username)).one()
    return actor_for(session=session, user=user, auth_factors="password")


def station(session: Session) -> int:
    """PS-A1's space (root id), with ``ct.one`` (a constable) and ``sho.one`` (cleared SECRET)."""
    build_tree(session)
    make_user(session, "ct.one")
    make_user(session, "sho.one", role="station_head", clearance=Classification.SECRET)
    unit = session.scalars(select(Unit).where(Unit.code == "PS-A1")).one()
    return spaces.ensure_unit_space(session, unit, DEFAULTS).root_id


def mkdir(session: Session, parent: int, name: str) -> int:
    located = service.create_folder(
        session=session, actor=actor(session, "sho.one"), context=SYSTEM, parent_id=parent,
        name=name,
    )  # fmt: skip
    return located.node.id


def index(session: Session, search: SearchEngine, root: int) -> None:
    """What the index job would do for ``root``'s subtree, now (later changes stay unindexed)."""
    live, gone = drive_index.nodes_for_index(session, root, subtree=True)
    search.delete(gone)
    search.upsert([document_of(node, {}) for node in live])


def find(
    session: Session, search: SearchEngine, text: str, *, limit: int = 20, offset: int = 0
) -> tuple[list[int], SearchPage]:
    found, page = querying.search(
        session=session,
        actor=actor(session, "ct.one"),
        context=SYSTEM,
        engine=search,
        query=SearchQuery(text=text, limit=limit, offset=offset),
        defaults=DEFAULTS,
    )
    assert [item.hit.node_id for item in found] == [hit.node_id for hit in page.hits]
    return [item.located.node.id for item in found], page


def test_a_match_hidden_since_it_was_indexed_is_neither_counted_nor_shown(
    db_session: Session, search: SearchEngine
) -> None:
    root = station(db_session)
    inquiry = mkdir(db_session, root, "गबन जांच")
    report = mkdir(db_session, root, "गबन रिपोर्ट")
    index(db_session, search, root)
    ids, page = find(db_session, search, "गबन")
    assert sorted(ids) == sorted([inquiry, report]) and page.total == 2

    classifying.set_classification(
        session=db_session, actor=actor(db_session, "sho.one"), context=SYSTEM,
        node_id=inquiry, classification=Classification.SECRET,
    )  # fmt: skip
    ids, page = find(db_session, search, "गबन")
    assert ids == [report] and page.total == 1 and page.total_exact

    trash.trash_node(
        session=db_session, actor=actor(db_session, "sho.one"), context=SYSTEM, node_id=report
    )
    ids, page = find(db_session, search, "गबन")
    assert ids == [] and page.total == 0 and not page.has_more


def test_pages_neither_skip_nor_repeat_when_stale_matches_drop_out(
    db_session: Session, search: SearchEngine
) -> None:
    root = station(db_session)
    old = mkdir(db_session, root, "पुराने मामले")
    hidden = [mkdir(db_session, old, f"चोरी {n}") for n in range(8)]
    shown = [mkdir(db_session, root, f"चोरी {n}") for n in range(8, 30)]
    index(db_session, search, root)
    classifying.set_classification(
        session=db_session, actor=actor(db_session, "sho.one"), context=SYSTEM,
        node_id=old, classification=Classification.SECRET,
    )  # fmt: skip

    pages = [find(db_session, search, "चोरी", limit=10, offset=at) for at in (0, 10, 20)]
    seen = [node_id for ids, _ in pages for node_id in ids]
    assert sorted(seen) == sorted(shown)  # every visible match once, none hidden
    assert [len(ids) for ids, _ in pages] == [10, 10, 2]
    assert {page.total for _, page in pages} == {22}
    assert not set(seen) & set(hidden)
    assert [page.has_more for _, page in pages] == [True, True, False]


def test_a_revoked_share_hides_at_once(db_session: Session, search: SearchEngine) -> None:
    """Shares are read at query time: no index job is needed, and none has run here."""
    root = station(db_session)
    make_user(db_session, "hc.b1", unit="PS-B1", role="head_constable")
    theirs = spaces.ensure_user_space(
        db_session, db_session.scalars(select(User).where(User.username == "hc.b1")).one(), DEFAULTS
    ).root_id
    owner = actor(db_session, "hc.b1")
    loot = service.create_folder(
        session=db_session, actor=owner, context=SYSTEM, parent_id=theirs, name="गबन बरामदगी"
    ).node.id
    mkdir(db_session, root, "गबन सूची")
    index(db_session, search, root)
    index(db_session, search, theirs)
    reader = db_session.scalars(select(User).where(User.username == "ct.one")).one()
    share = shares.create_share(
        session=db_session, actor=owner, context=SYSTEM, node_id=loot, subject_type="user",
        subject_id=reader.id, permission=shares.Permission.READ, include_subunits=False,
        expires_at=None,
    )  # fmt: skip
    ids, page = find(db_session, search, "गबन")
    assert loot in ids and page.total == 2

    shares.revoke_share(session=db_session, actor=owner, context=SYSTEM, share_id=share.id)
    ids, page = find(db_session, search, "गबन")
    assert loot not in ids and page.total == 1


def test_a_shared_folder_put_in_the_trash_or_raised_hides_what_is_below_at_once(
    db_session: Session, search: SearchEngine
) -> None:
    """Shares reaching the searcher are what the engine filters by, unchecked; the check of every
    match then drops what is below a shared folder in the trash or above the reader's clearance,
    before the index catches up (no index job has run here)."""
    station(db_session)
    make_user(db_session, "sho.b1", unit="PS-B1", role="station_head",
              clearance=Classification.SECRET)  # fmt: skip
    theirs = spaces.ensure_user_space(
        db_session,
        db_session.scalars(select(User).where(User.username == "sho.b1")).one(),
        DEFAULTS,
    ).root_id
    owner = actor(db_session, "sho.b1")
    reader = db_session.scalars(select(User).where(User.username == "ct.one")).one()
    folders = {}
    for name in ("binned", "raised"):
        shared = service.create_folder(
            session=db_session, actor=owner, context=SYSTEM, parent_id=theirs, name=name
        ).node.id
        service.create_folder(
            session=db_session, actor=owner, context=SYSTEM, parent_id=shared,
            name=f"तलाशी {name}",
        )  # fmt: skip
        shares.create_share(
            session=db_session, actor=owner, context=SYSTEM, node_id=shared, subject_type="user",
            subject_id=reader.id, permission=shares.Permission.READ, include_subunits=False,
            expires_at=None,
        )  # fmt: skip
        folders[name] = shared
    index(db_session, search, theirs)
    ids, page = find(db_session, search, "तलाशी")
    assert page.total == 2

    trash.trash_node(session=db_session, actor=owner, context=SYSTEM, node_id=folders["binned"])
    classifying.set_classification(
        session=db_session, actor=owner, context=SYSTEM, node_id=folders["raised"],
        classification=Classification.SECRET,
    )  # fmt: skip
    ids, page = find(db_session, search, "तलाशी")
    assert ids == [] and page.total == 0 and page.total_exact


def test_the_check_decides_alike_with_the_roots_levels_read_for_visibility(
    db_session: Session,
) -> None:
    """``MatchCheck`` takes the roots' levels read to decide the spaces instead of reading those
    roots again: the same nodes pass, for a reader below and above the levels met."""
    root = station(db_session)
    plain = mkdir(db_session, root, "plain")
    inner = mkdir(db_session, plain, "inner")
    secret = mkdir(db_session, root, "secret")
    below_secret = mkdir(db_session, secret, "below")
    binned = mkdir(db_session, root, "binned")
    below_binned = mkdir(db_session, binned, "below")
    head = actor(db_session, "sho.one")
    classifying.set_classification(
        session=db_session, actor=head, context=SYSTEM, node_id=secret,
        classification=Classification.SECRET,
    )  # fmt: skip
    trash.trash_node(session=db_session, actor=head, context=SYSTEM, node_id=binned)
    nodes = [root, plain, inner, secret, below_secret, binned, below_binned]
    passed = {}
    for username in ("ct.one", "sho.one"):
        reader = actor(db_session, username)
        drive_index.reached_spaces(db_session, reader, DEFAULTS)  # makes the reader's own space
        reached = drive_index.reached_spaces(db_session, reader, DEFAULTS)
        assert root in reached.root_levels
        handed = drive_index.MatchCheck(db_session, reader, reached.root_levels).readable(nodes)
        assert handed == drive_index.MatchCheck(db_session, reader).readable(nodes)
        passed[username] = handed
    assert passed["ct.one"] == {root, plain, inner}
    assert passed["sho.one"] == {root, plain, inner, secret, below_secret}
