"""Polaris's server CPU per sent message and per delivered event, in lock step (no contention).

Run by hand (never in CI), from the repository root:

    PYTHONPATH=src .venv/bin/python bench/chat_cpu.py [--clients 50,200] [--messages 40]

`bench/chat.py` measures throughput and latency against Synapse; on a machine shared with
other work both move by tens of per cent between runs, and so does its CPU per message, which
mixes the work with the contention of 8 senders or 200 syncs woken at once (locks, queues,
several messages batched into one sync answer). This driver takes the same Polaris (`polaris
init --demo`, SQLite, `polaris serve`, one process) and the same Matrix client, but one thing at
a time, and reads the server's CPU time (/proc/PID/stat, the whole process tree):

- per sent message: one sender, `--messages` sends one after the other, nobody syncing;
- per delivered event: `--clients` logins long-polling `/sync`, and the sender sends the next
  message only when every client has seen the last one, so that each message wakes each client's
  sync exactly once (a delivery is one woken sync answering one message, and the next long-poll).

The CPU of the work each phase started and that ends after it (the event runner, the search
index's jobs) is counted up to the moment the server has been idle for `--settle` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import secrets
import sys
import time
from pathlib import Path

import aiohttp
from lib_peers import BenchError, cpu_seconds, temp_tree

from chat import (
    LONG_POLL_MS,
    PHASE_TIMEOUT,
    Account,
    Arrivals,
    Matrix,
    PolarisChat,
    bounded,
    progress,
    stop_tree,
    sync_loop,
    tree_pids,
    uptime,
)

#: The server counts as idle when its CPU time moves less than this in a settle interval.
IDLE_CPU = 0.02
#: 200 initial syncs at once on a loaded shared machine take minutes.
INITIAL_TIMEOUT = 600.0


async def settle(pids: list[int], seconds: float) -> float:
    """Wait until the server is idle (its background work done); its CPU time then."""
    before = cpu_seconds(pids)
    while True:
        await asyncio.sleep(seconds)
        now = cpu_seconds(pids)
        if now - before < IDLE_CPU:
            return now
        before = now


async def per_message(
    mx: Matrix, sender: Account, room: str, messages: int, pids: list[int], idle: float
) -> float:
    tag = secrets.token_hex(3)
    for n in range(3):
        await mx.send(sender, room, f"w{tag}n{n}", f"warm-up {n}")
    start = await settle(pids, idle)
    for n in range(messages):
        await mx.send(sender, room, f"c{tag}n{n}", f"message {n}")
    end = await settle(pids, idle)
    return (end - start) * 1000 / messages


async def per_delivery(
    mx: Matrix,
    sender: Account,
    logins: list[Account],
    room: str,
    messages: int,
    pids: list[int],
    idle: float,
) -> float:
    tag = secrets.token_hex(3)
    arrivals = Arrivals(len(logins), room, tag)
    ready = asyncio.Event()
    started = [0]
    tasks = [
        asyncio.create_task(sync_loop(mx, account, index, arrivals, ready, started))
        for index, account in enumerate(logins)
    ]
    try:
        waiting = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            [waiting, *tasks], timeout=INITIAL_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if waiting not in done:
            waiting.cancel()
            for task in done:
                task.result()  # a failed sync loop ends the run with its error
            raise BenchError(f"{len(logins)} initial syncs took over {INITIAL_TIMEOUT} s")
        await mx.send(sender, room, f"l{tag}n0", f"lat {tag} 0")
        if not await arrivals.wait_all(0, PHASE_TIMEOUT):
            raise BenchError("the warm-up message did not reach every client")
        start = await settle(pids, idle)
        for number in range(1, messages + 1):
            await mx.send(sender, room, f"l{tag}n{number}", f"lat {tag} {number}")
            if not await arrivals.wait_all(number, PHASE_TIMEOUT):
                raise BenchError(f"message {number} did not reach every client")
        end = await settle(pids, idle)
        for task in tasks:
            if task.done():
                task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return (end - start) * 1000 / (messages * len(logins))


async def run(server: PolarisChat, args: argparse.Namespace) -> list[str]:
    counts = sorted({int(c) for c in args.clients.split(",")})
    timeout = aiohttp.ClientTimeout(total=None, sock_read=LONG_POLL_MS / 1000 + 60)
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    users = server.users[: args.users]
    pids = tree_pids(server.server_pid())
    rows = []
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        mx = Matrix("polaris", server.base_url(), session)
        progress(f"signing in {max(counts)} sync clients")
        sender = await mx.login(users[0], server.password, "sender")
        logins = await bounded(
            4,
            [
                functools.partial(
                    mx.login, users[1 + i % (len(users) - 1)], server.password, f"s{i}"
                )
                for i in range(max(counts))
            ],
        )
        members = sorted({a.user_id for a in logins} - {sender.user_id})
        room = await mx.create_room(sender, members)
        joined = {a.user_id: a for a in logins}
        await bounded(4, [functools.partial(mx.join, a, room) for a in joined.values()])
        for repeat in range(args.repeat):
            ms = await per_message(mx, sender, room, args.messages, pids, args.settle)
            progress(f"run {repeat + 1}: {ms:.2f} ms CPU per sent message")
            rows.append(f"| per sent message (1 sender, nobody syncing) | {ms:.2f} |")
            for count in counts:
                ms = await per_delivery(
                    mx, sender, logins[:count], room, args.messages, pids, args.settle
                )
                progress(f"run {repeat + 1}: {ms:.2f} ms CPU per delivery, {count} clients")
                rows.append(f"| per delivered event, {count} sync clients | {ms:.2f} |")
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="50,200", help="sync client counts, comma-separated")
    parser.add_argument("--messages", type=int, default=40, help="messages per phase")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every phase")
    parser.add_argument("--users", type=int, default=24, help="distinct users (≤ 36)")
    parser.add_argument("--settle", type=float, default=1.0, help="idle interval, seconds")
    parser.add_argument("--polaris-bin", type=Path, default=Path(sys.executable).parent / "polaris")
    parser.add_argument("--tmp", type=Path, default=None, help="where the temp dir goes")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and logs")
    args = parser.parse_args(argv)
    load = uptime()
    with temp_tree(args.tmp, args.keep) as root:
        server = PolarisChat(root / "polaris", args.polaris_bin.absolute(), 1)
        pids: list[int] = []
        try:
            progress("polaris: init --demo and serve")
            server.start()
            pids = tree_pids(server.pid)
            rows = asyncio.run(run(server, args))
        finally:
            stop_tree(server, pids + (tree_pids(server.pid) if server.proc else []))
    print(f"Chat CPU, `bench/chat_cpu.py {' '.join(argv)}`; load before `{load}`, after "
          f"`{uptime()}`; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")  # fmt: skip
    print()
    print("| measure | server CPU, ms |")
    print("| --- | ---: |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
