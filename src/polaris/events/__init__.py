"""The change stream: one event per change, written in the change's own transaction.

Every domain that changes something appends an event (``service.append``) in the transaction of the
change, so an event exists exactly when its change committed. Events carry ids, never content. A
sequencer (``service.sequence``) then gives committed events their **position**: one server-wide,
gap-free, increasing number. A reader asks "what came after position P?" (``service.since``) and can
never miss an event that committed late, because positions are handed out only to committed events,
after every position handed out before (on PostgreSQL, id order is not commit order; the sequencer's
order is).

Consumers (``consumers``) read the stream with durable cursors, in the same transaction as their own
writes, so each event's effect happens once even across crashes, on whichever node runs them.
``runner.EventRunner`` sequences and runs consumers in a thread, woken at once by a commit in this
process or, through Redis, on another node; it also polls, so a lost wake-up costs a poll interval.

This package is infrastructure: it knows no domain. Domains define their event kinds and register
their consumers; ``polaris.handlers`` gathers them.
"""

from polaris.events.consumers import Consumer, consumer, drain, registered_consumers
from polaris.events.models import DomainEvent
from polaris.events.service import (
    Event,
    Later,
    append,
    continue_after,
    head_position,
    later_events,
    oldest_position,
    sequence,
    since,
)
from polaris.events.status import (
    ConsumerStatus,
    StreamStatus,
    consumer_position,
    stream_status,
)

__all__ = [
    "Consumer",
    "ConsumerStatus",
    "DomainEvent",
    "Event",
    "Later",
    "StreamStatus",
    "append",
    "consumer",
    "consumer_position",
    "continue_after",
    "drain",
    "head_position",
    "later_events",
    "oldest_position",
    "registered_consumers",
    "sequence",
    "since",
    "stream_status",
]
