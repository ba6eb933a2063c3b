"""Open-loop load at a fixed request rate over N keep-alive connections (standard library only).

Requests are sent at their *scheduled* times whatever the server does, and latency is measured
from the scheduled time, so a stalled server shows up in the percentiles (no coordinated
omission, unlike closed-loop wrk). A request whose time has come while every connection is busy
waits for the first free one, and that wait counts.

The load is split over ``--processes`` processes (interleaved schedules, connections divided),
each a small event-driven asyncio protocol (no coroutine or task per request), so the
generator needs little CPU and one busy process does not delay the others' sends. It prints its
own CPU time per request, since it shares the machine with the server:

    python bench/enc/openloop.py --url http://127.0.0.1:18082 --rate 1000 --duration 20 \\
        --connections 50 --method GET --token-file /tmp/stagehand-enc-bench.token
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import random
import re
import time
from urllib.parse import urlsplit

_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_HIT = re.compile(rb"\r\nx-stagehand-answer-cache:\s*hit", re.IGNORECASE)


class Connection(asyncio.Protocol):
    def __init__(self, client: Client):
        self.client = client
        self.transport = None
        self.buffer = b""
        self.scheduled = 0.0
        self.inflight = False
        self.need = -1  # bytes of the whole response once its head is parsed
        self.ok = False
        self.hit = False

    def connection_made(self, transport):
        self.transport = transport
        self.client.idle.append(self)
        self.client.dispatch()

    def send(self, scheduled: float, request: bytes) -> None:
        self.scheduled = scheduled
        self.inflight = True
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.need < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = _LENGTH.search(self.buffer, 0, end + 2)
            self.need = end + 4 + (int(length.group(1)) if length else 0)
            self.ok = self.buffer[9:12] == b"200"
            self.hit = _HIT.search(self.buffer, 0, end + 2) is not None
        if len(self.buffer) >= self.need:
            self.buffer = self.buffer[self.need :]
            self.need = -1
            self.inflight = False
            self.client.done(self, self.ok, self.hit)

    def connection_lost(self, exc) -> None:
        self.client.lost(self)


class Client:
    """One process's share: a schedule, a pool of connections, the latencies."""

    def __init__(self, loop, host, port, request, schedule: list[float], connections: int):
        self.loop, self.host, self.port = loop, host, port
        self.request = request  # () -> the next request's bytes
        self.schedule = collections.deque(schedule)
        self.due: collections.deque = collections.deque()  # scheduled times waiting for a connection
        self.idle: list = []
        self.busy = 0
        self.latencies: list = []
        self.errors = 0
        self.hits = 0
        self.finished = loop.create_future()
        self.total = len(schedule)
        for _ in range(connections):
            loop.create_task(loop.create_connection(lambda: Connection(self), host, port))
        self.arm()

    def arm(self) -> None:
        if self.schedule:
            self.loop.call_at(self.schedule[0], self.tick)

    def tick(self) -> None:
        now = self.loop.time()
        while self.schedule and self.schedule[0] <= now:
            self.due.append(self.schedule.popleft())
        self.dispatch()
        self.arm()

    def dispatch(self) -> None:
        while self.due and self.idle:
            connection = self.idle.pop()
            self.busy += 1
            connection.send(self.due.popleft(), self.request())

    def done(self, connection: Connection, ok: bool, hit: bool) -> None:
        self.latencies.append(self.loop.time() - connection.scheduled)
        self.errors += not ok
        self.hits += hit
        self.busy -= 1
        self.idle.append(connection)
        self.dispatch()
        self.check()

    def lost(self, connection: Connection) -> None:
        if connection in self.idle:
            self.idle.remove(connection)
        if connection.inflight:  # the server closed it with a request outstanding: an error
            connection.inflight = False
            self.busy -= 1
            self.errors += 1
            self.latencies.append(self.loop.time() - connection.scheduled)
        if len(self.latencies) < self.total:
            self.loop.create_task(self.loop.create_connection(lambda: Connection(self), self.host, self.port))
        self.check()

    def check(self) -> None:
        if len(self.latencies) >= self.total and not self.finished.done():
            self.finished.set_result(None)


def _run_share(args, index: int, start: float, out) -> None:
    url = urlsplit(args.url)
    token = open(args.token_file).read().strip()  # noqa: SIM115
    body = open(args.body_file, "rb").read() if args.method == "POST" else b""  # noqa: SIM115
    rng = random.Random(index)
    head = f"{args.method} /enc/v1/nodes/bench-".encode()
    tail = (
        f".example HTTP/1.1\r\nHost: {url.hostname}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    names = [f"{n:05d}".encode() for n in range(args.nodes)]

    def request() -> bytes:  # a node chosen at random among all of them, for every request
        return head + names[rng.randrange(args.nodes)] + tail

    total = int(args.rate * args.duration)
    schedule = [start + k / args.rate for k in range(index, total, args.processes)]
    connections = args.connections // args.processes + (index < args.connections % args.processes)

    async def main():
        loop = asyncio.get_running_loop()
        client = Client(loop, url.hostname, url.port, request, schedule, connections)
        await client.finished
        return client

    cpu = time.process_time()
    client = asyncio.run(main())
    out.put((client.latencies, client.errors, time.process_time() - cpu, client.hits))


def main(args) -> None:
    start = time.monotonic() + 1.0  # CLOCK_MONOTONIC: the same clock in every process on Linux
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    workers = [ctx.Process(target=_run_share, args=(args, i, start, out)) for i in range(args.processes)]
    for worker in workers:
        worker.start()
    parts = [out.get() for _ in workers]
    elapsed = time.monotonic() - start
    for worker in workers:
        worker.join()
    results = sorted(latency for part in parts for latency in part[0])
    errors = sum(part[1] for part in parts)
    cpu = sum(part[2] for part in parts)
    hits = sum(part[3] for part in parts)

    def pct(p):
        return results[min(len(results) - 1, int(len(results) * p / 100))] * 1000

    print(
        f"RESULT open-loop method={args.method} target_rps={args.rate:g} achieved_rps={len(results) / elapsed:.0f} "
        f"requests={len(results)} p50_ms={pct(50):.2f} p90_ms={pct(90):.2f} p99_ms={pct(99):.2f} "
        f"p999_ms={pct(99.9):.2f} max_ms={results[-1] * 1000:.2f} errors={errors} "
        f"answer_cache_hits={100 * hits / max(len(results), 1):.0f}% "
        f"generator_cpu_ms_per_request={cpu / max(len(results), 1) * 1000:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--method", choices=["GET", "POST"], default="GET")
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--token-file", default="/tmp/stagehand-enc-bench.token")
    parser.add_argument("--body-file", default="/tmp/stagehand-enc-bench-body.json")
    main(parser.parse_args())
