"""The server process's garbage collector, set for a long-running server with a large heap.

CPython's cyclic collector walks every tracked container of a generation. A serving process
holds a few hundred thousand long-lived ones from its start (the app and its routes, the
SQLAlchemy mappers and compiled statements, the Pydantic models, the templates), so each full
collection of the oldest generation walked them all: measured on a busy instance (200 Matrix
long-polls, a message every half second), one every 1.5 s taking 180 to 270 ms, during which
no request moved — the slowest deliveries were those that waited for it, and it was a tenth of
the process's CPU.

:func:`settle` runs once the app has started: a full collection, then ``gc.freeze()`` moves
every object alive then out of the collector's sight (they are still freed by reference
counting when no longer used; only a cycle among them would now never be collected, and the
start-up objects live as long as the process), and a larger first threshold makes the young
collections fewer. Cyclic garbage made while serving is collected as before.

Only ``polaris serve`` calls it (``create_app(settle_heap=True)``): a test process builds
many apps and must be able to collect them.
"""

from __future__ import annotations

import gc

#: Collect the youngest generation after this many more allocations than frees of containers
#: (CPython's default is 700: a single request made several young collections).
YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """Collect, freeze what is alive, and raise the young generation's threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
