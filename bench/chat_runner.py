"""CPU of the event runner's pass after each Matrix send, in process (SQLite), and of the send.

Run by hand (never in CI), from the repository root; `PYTHONPATH` picks the code measured (a
checkout of another commit: `git worktree add --detach DIR COMMIT`, then `PYTHONPATH=DIR/src`):

    PYTHONPATH=src .venv/bin/python bench/chat_runner.py [--sends 150]

One process: a migrated SQLite database in a temp dir, the app (`tests.support.real_app`, no job
threads), one officer signed in through the Matrix API with a room of their own. Each round sends
one message (`PUT .../send`, timed), gives it its position, and runs one pass of the event runner
(`events.consumers.run_pass` with every consumer of `polaris serve` registered, timed). CPU is
this process's (`time.process_time`: user and system, so a commit's `fsync` counts); the figures
are per message. The send's figure includes the test client's own work.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests' helpers

from tests.drive.conftest import seed  # noqa: E402
from tests.factories import PASSWORD  # noqa: E402
from tests.support.real_app import client_for, migrated, real_instance  # noqa: E402

import polaris.handlers  # noqa: E402, F401 - every consumer registered, as in `polaris serve`
from polaris.db import make_engine  # noqa: E402
from polaris.events import consumers  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=150)
    parser.add_argument("--tmp", type=Path, default=None, help="where the temp dir goes")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(dir=args.tmp) as temp,
        migrated("sqlite", Path(temp), "") as url,
    ):
        engine = make_engine(url)
        instance = real_instance(engine, Path(temp))
        session = instance.sessions()
        seed(session)
        session.commit()
        session.close()
        try:
            with client_for(instance) as client:
                login = {
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": "hc.a1"},
                    "password": PASSWORD,
                }
                token = client.post("/_matrix/client/v3/login", json=login).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                created = client.post(
                    "/_matrix/client/v3/createRoom",
                    json={"preset": "private_chat", "name": "bench"},
                    headers=headers,
                )
                room = quote(created.json()["room_id"])
                consumers.run_pass(instance.sessions)
                runner = send = 0.0
                for n in range(args.sends):
                    started = time.process_time()
                    answer = client.put(
                        f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{n}",
                        json={"msgtype": "m.text", "body": f"message {n}"},
                        headers=headers,
                    )
                    send += time.process_time() - started
                    if answer.status_code != 200:
                        raise SystemExit(f"send {n}: {answer.status_code} {answer.text}")
                    consumers.sequence_pending(instance.sessions)
                    started = time.process_time()
                    consumers.run_pass(instance.sessions)
                    runner += time.process_time() - started
        finally:
            engine.dispose()
    print(
        f"event runner's pass {runner * 1000 / args.sends:.2f} ms CPU per message; the send "
        f"request {send * 1000 / args.sends:.2f} ms ({args.sends} sends, in process, SQLite)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
