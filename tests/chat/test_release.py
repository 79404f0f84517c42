"""A stopping server answers the syncs waiting in the chat hub at once (``Hub.release``), and
later ones do not wait: a graceful stop must not wait out every long-poll's timeout."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy.orm import sessionmaker

from polaris.chat import live
from polaris.cli.serving import ReleasingServer
from tests.support.aio import run_coroutine

#: Far longer than any test may take: a sync still waiting this long was never released.
FOREVER = 3600.0


def test_release_answers_the_waiting_syncs_and_later_ones_at_once() -> None:
    hub = live.Hub(sessionmaker(), redis_url=None, poll_seconds=1.0)  # its thread never runs

    async def scenario() -> tuple[list[bool], bool]:
        waits = [
            asyncio.ensure_future(hub.wait_beyond(0, FOREVER, rooms=[1], user_id=7)),
            asyncio.ensure_future(hub.wait_beyond(0, FOREVER)),
        ]
        while hub.waiting < 2:  # both registered (each yields to the loop once it waits)
            await asyncio.sleep(0)
        assert not hub.released
        threading.Thread(target=hub.release).start()  # as a signal handler would, off the loop
        woken = await asyncio.wait_for(asyncio.gather(*waits), FOREVER)
        later = await asyncio.wait_for(hub.wait_beyond(0, FOREVER, rooms=[2]), FOREVER)
        return list(woken), later

    woken, later = run_coroutine(scenario())
    assert woken == [True, True] and later is True
    assert hub.released and hub.waiting == 0


def test_the_serving_server_releases_the_hub_when_asked_to_stop() -> None:
    import uvicorn

    released: list[bool] = []

    async def app(scope: object, receive: object, send: object) -> None:  # never called
        raise AssertionError

    server = ReleasingServer(uvicorn.Config(app), on_exit=lambda: released.append(True))
    server.handle_exit(2, None)
    assert server.should_exit and released == [True]
