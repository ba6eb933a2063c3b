"""Open-loop load at a fixed request rate over N keep-alive connections (asyncio, no deps).

Latency is measured from each request's *scheduled* send time, so a stalled server shows up in
the percentiles (no coordinated omission, unlike closed-loop wrk):

    python bench/enc/openloop.py --url http://127.0.0.1:18082 --rate 500 --duration 20 \\
        --connections 50 --method GET --token-file /tmp/stagehand-enc-bench.token
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from urllib.parse import urlsplit


async def worker(host, port, queue, results, method, headers, body, nodes, errors):
    reader, writer = await asyncio.open_connection(host, port)
    while True:
        scheduled = await queue.get()
        if scheduled is None:
            break
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        path = f"/enc/v1/nodes/bench-{random.randrange(nodes):05d}.example"
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        try:
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length = 0
            chunked = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                await reader.readexactly(length)
            if b" 200 " not in status_line:
                errors.append(status_line)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            errors.append(repr(exc))
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
        results.append(time.perf_counter() - scheduled)
    writer.close()


async def main(args):
    url = urlsplit(args.url)
    token = open(args.token_file).read().strip()  # noqa: SIM115
    body = open(args.body_file, "rb").read() if args.method == "POST" else b""  # noqa: SIM115
    headers = f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    queue: asyncio.Queue = asyncio.Queue()
    results: list = []
    errors: list = []
    total = int(args.rate * args.duration)
    start = time.perf_counter() + 0.5
    for i in range(total):
        queue.put_nowait(start + i / args.rate)
    for _ in range(args.connections):
        queue.put_nowait(None)
    workers = [
        worker(url.hostname, url.port, queue, results, args.method, headers, body, args.nodes, errors)
        for _ in range(args.connections)
    ]
    began = time.perf_counter()
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - began
    results.sort()

    def pct(p):
        return results[min(len(results) - 1, int(len(results) * p / 100))] * 1000

    print(
        f"RESULT open-loop method={args.method} target_rps={args.rate} achieved_rps={len(results) / elapsed:.0f} "
        f"requests={len(results)} p50_ms={pct(50):.2f} p90_ms={pct(90):.2f} p99_ms={pct(99):.2f} "
        f"max_ms={results[-1] * 1000:.2f} errors={len(errors)}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--method", choices=["GET", "POST"], default="GET")
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--token-file", default="/tmp/stagehand-enc-bench.token")
    parser.add_argument("--body-file", default="/tmp/stagehand-enc-bench-body.json")
    asyncio.run(main(parser.parse_args()))
