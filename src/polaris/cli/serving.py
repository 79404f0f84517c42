"""The server ``polaris serve`` runs: uvicorn's, told what to do first when asked to stop.

Imported by ``serve`` only (uvicorn is not loaded for the other commands).
"""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType

import uvicorn


class ReleasingServer(uvicorn.Server):
    """uvicorn's server that, when asked to stop, first answers the syncs waiting in the chat hub.

    A graceful stop waits for the requests in flight, and would otherwise wait out every
    long-poll's timeout (30 s for Element; ``chat.live.Hub.release``). With ``--workers N``
    uvicorn's supervisor makes plain servers: their stop still waits for the long-polls.
    """

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._on_exit()
