"""The messenger's message index: the document engines, tokeniser and folding, over messages.

**Same engine, own index.** Messages go into the configured engine (``search.engine``) with the
same terms as documents (:mod:`polaris.search.keys`: Hindi and English, nukta, digits, Roman-script
keys), but into an index of their own: Tantivy in ``DATA_DIR/search-messages`` (beside the
documents' directory), PostgreSQL in the ``chat_search_entry`` table. A document search can then
never meet a message, nor a message search a document, and each rebuilds alone.

A message is a :class:`SearchDocument` whose ``node_id`` is the message's event id, ``space_id``
its room, ``owner_id`` its sender, ``modified_at`` when it was sent, ``content_type`` its kind
(``text``, ``notice``, ``attachment``) and ``classification`` an attachment's level (0 else).
Visibility is the rooms the searcher is joined to (``space_ids``), up to their clearance.

**Through the change stream.** The consumer ``search.messages`` reads ``chat.message.sent``,
``chat.message.edited``, ``chat.message.redacted`` and ``chat.message.purged`` and queues keyed
``search.message_index`` jobs for the messages of each batch it is handed (up to
:data:`IDS_PER_JOB` a job); chat never calls search. The job reads each message as
it is when it runs (``chat.search_source.messages_for_index``): its current text, or *gone*
(deleted, purged), which removes it. Jobs run in passes of up to :data:`PASS_JOBS`, one engine
write a pass, like the documents' index jobs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from polaris import events, jobs
from polaris.chat import events as chat_events
from polaris.chat import search_source
from polaris.config import Settings
from polaris.db.uow import unit_of_work
from polaris.instance import Instance
from polaris.search.interface import SearchDocument, SearchEngine
from polaris.search.models import ChatSearchEntry
from polaris.search.postgres_engine import PostgresSearchEngine
from polaris.search.service import SearchConfigurationError, index_path
from polaris.search.tantivy_engine import TantivySearchEngine
from polaris.search.text import TERMS_VERSION

CONSUMER = "search.messages"
JOB = "search.message_index"
REINDEX_JOB = "search.message_reindex"
PASS_JOBS = 20
#: Messages a job names at most (a runner's batch, cut into jobs of this many): a pass reads,
#: builds and writes at most ``PASS_JOBS * IDS_PER_JOB`` (2,000) messages.
IDS_PER_JOB = 100
BATCH = 500
_OPEN_LOCK = threading.Lock()
MESSAGE_TABLE = ChatSearchEntry.metadata.tables[ChatSearchEntry.__tablename__]


def message_index_path(settings: Settings) -> Path:
    documents = index_path(settings)
    return documents.with_name(documents.name + "-messages")


def open_message_engine(settings: Settings, instance: Instance) -> SearchEngine:
    if settings.search.engine == "postgresql":
        if instance.engine.dialect.name != "postgresql":
            raise SearchConfigurationError(
                "search.engine = 'postgresql' needs a PostgreSQL database_url"
            )
        return PostgresSearchEngine(instance.engine, table=MESSAGE_TABLE)
    return TantivySearchEngine(
        message_index_path(settings),
        writer_heap_bytes=settings.search.writer_heap_mib * 1024 * 1024,
    )


def message_engine_of(instance: Instance) -> SearchEngine:
    """The instance's message index, opened on first use."""
    with _OPEN_LOCK:
        if instance.message_search is None:
            instance.message_search = open_message_engine(instance.settings, instance)
        return instance.message_search


def document_of(message: search_source.IndexedMessage) -> SearchDocument:
    return SearchDocument(
        node_id=message.event_id,
        space_id=message.room_id,
        ancestors=(message.event_id,),
        name="",
        text=message.text,
        content_type=message.kind,
        classification=message.classification,
        owner_id=message.sender_id,
        unit_id=message.room_unit_id,
        modified_at=message.sent_at,
    )


# --- the consumer -------------------------------------------------------------------------------


def request_indexes(session: Session, event_ids: Sequence[int]) -> None:
    """Keyed index jobs for these messages, up to :data:`IDS_PER_JOB` a job, with one statement
    (``jobs.enqueue_keyed``). A job's key is a digest of its ids: the same messages asked for
    again while their job is queued are that job. (A message in two jobs, a send and then an
    edit in a later batch, is indexed twice: the writes are idempotent.) A job a message cost a
    row inserted, claimed and closed for each message; a job a runner's batch shares that."""
    ids = sorted(set(event_ids))
    chunks = [ids[n : n + IDS_PER_JOB] for n in range(0, len(ids), IDS_PER_JOB)]
    jobs.enqueue_keyed(
        session,
        JOB,
        [
            jobs.KeyedJob(
                key=f"{JOB}:{_digest(chunk)}",
                payload={"event_ids": chunk},
                subject=("chat_event", chunk[0]),
            )
            for chunk in chunks
        ],
    )


def _digest(ids: Sequence[int]) -> str:
    return hashlib.blake2b(",".join(map(str, ids)).encode(), digest_size=16).hexdigest()


def _payload_ids(payload: dict[str, Any]) -> list[int]:
    """The messages a job names: ``event_ids``, or ``event_id`` (a job queued before jobs
    took several)."""
    if "event_ids" in payload:
        ids = payload["event_ids"]
        if not isinstance(ids, list) or not ids:
            raise ValueError("event_ids is not a list of ids")
        return [int(i) for i in ids]
    return [int(payload["event_id"])]


@events.consumer(
    CONSUMER,
    kinds=[
        chat_events.MESSAGE_SENT,
        chat_events.MESSAGE_EDITED,
        chat_events.MESSAGE_REDACTED,
        chat_events.MESSAGE_PURGED,
    ],
)
def follow_messages(session: Session, batch: Sequence[events.Event]) -> None:
    """Index jobs for the messages a batch's changes touched (an edit or a deletion: the
    original), one for up to :data:`IDS_PER_JOB` of them."""
    wanted: set[int] = set()
    for event in batch:
        data = event.data
        if event.kind == chat_events.MESSAGE_PURGED:
            ids = data.get("event_ids")
            if isinstance(ids, list):
                wanted.update(i for i in ids if isinstance(i, int))
            continue
        target = {
            chat_events.MESSAGE_SENT: data.get("event_id"),
            chat_events.MESSAGE_EDITED: data.get("edits_id"),
            chat_events.MESSAGE_REDACTED: data.get("redacts_id"),
        }.get(event.kind)
        if isinstance(target, int):
            wanted.add(target)
    request_indexes(session, sorted(wanted))


# --- the jobs -----------------------------------------------------------------------------------


def index_messages(instance: Instance, event_ids: Sequence[int]) -> tuple[int, int]:
    """Bring the index in line with these messages as they are now: (indexed, removed)."""
    session = instance.read_sessions()
    try:
        with session.begin():
            live, gone = search_source.messages_for_index(session, event_ids)
    finally:
        session.close()
    engine = message_engine_of(instance)
    rejected = engine.write([document_of(message) for message in live], gone)
    if rejected:
        raise ValueError("; ".join(f"message {k}: {v}" for k, v in sorted(rejected.items())))
    return len(live), len(gone)


@jobs.batch_handler(JOB, size=PASS_JOBS)
def index_jobs(instance: Instance, batch: Sequence[jobs.BatchJob]) -> jobs.BatchOutcome:
    outcome: jobs.BatchOutcome = {}
    wanted: dict[int, list[int]] = {}  # job id -> event ids
    for job in batch:
        try:
            wanted[job.job_id] = _payload_ids(job.payload)
        except (KeyError, TypeError, ValueError) as error:
            outcome[job.job_id] = jobs.JobFailure(f"not a message: {error!r}", permanent=True)
    every = sorted({event_id for ids in wanted.values() for event_id in ids})
    session = instance.read_sessions()
    try:
        with session.begin():
            live, gone = search_source.messages_for_index(session, every)
    finally:
        session.close()
    rejected = message_engine_of(instance).write([document_of(m) for m in live], gone)
    removed = set(gone)
    for job_id, ids in wanted.items():
        refused = {i: rejected[i] for i in ids if i in rejected}
        if refused:  # the job's other messages were written all the same
            reason = "; ".join(f"message {k}: {v}" for k, v in sorted(refused.items()))
            outcome[job_id] = jobs.JobFailure(reason, permanent=True)
        else:
            outcome[job_id] = {
                "indexed": sum(1 for i in ids if i not in removed),
                "removed": sum(1 for i in ids if i in removed),
            }
    return outcome


def reindex_messages(instance: Instance) -> int:
    """Rebuild the message index from the database (after a restore, or new terms)."""
    engine = message_engine_of(instance)
    engine.clear()
    indexed = after = 0
    while True:
        session = instance.read_sessions()
        try:
            with session.begin():
                ids = search_source.message_ids(session, after=after, limit=BATCH)
        finally:
            session.close()
        if not ids:
            break
        indexed += index_messages(instance, ids)[0]
        after = ids[-1]
    engine.set_terms_version(TERMS_VERSION)
    return indexed


def ensure_current(instance: Instance) -> bool:
    """Queue a rebuild when the message index holds other terms than this version makes, or is
    empty while the database holds messages (an instance upgraded to this Polaris: the change
    stream no longer holds the events of messages older than its retention)."""
    engine = message_engine_of(instance)
    why = "terms" if engine.terms_version() != TERMS_VERSION else None
    if why is None and engine.count() == 0:
        session = instance.read_sessions()
        try:
            with session.begin():
                if search_source.message_ids(session, after=0, limit=1):
                    why = "empty"
        finally:
            session.close()
    if why is None:
        return False
    with unit_of_work(instance.sessions) as session:
        jobs.enqueue(
            session,
            kind=REINDEX_JOB,
            payload={"terms": TERMS_VERSION, "why": why},
            key=f"{REINDEX_JOB}:{why}-{TERMS_VERSION}",
        )
    return True


@jobs.handler(REINDEX_JOB)
def reindex_job(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    engine = message_engine_of(context.instance)
    if payload.get("why") != "empty" and engine.terms_version() == TERMS_VERSION:
        return {"indexed": 0}  # another worker's job did it
    if payload.get("why") == "empty" and engine.count() > 0:
        return {"indexed": 0}
    return {"indexed": reindex_messages(context.instance)}
