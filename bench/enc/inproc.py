"""CPU per classification measured in process: the enc WSGI application called directly (no HTTP
server, no load generator), one thread, against the seeded benchmark database.

    DATABASE_URL=postgresql://.../stagehand_enc_bench .venv/bin/python bench/enc/inproc.py \\
        [--requests 3000] [--method GET|POST] [--cold] [--newer-facts] [--profile 25]

Prints the enc process's CPU ms per request (``time.process_time``) and its PostgreSQL backend's
(psutil on ``pg_backend_pid()``): CPU time, so it does not depend much on what else the machine
runs. ``--cold`` bumps the classification version before the timed loop (every node asked once
is then a miss); without it every node is asked once before timing (warm). ``--newer-facts``
gives every POST a new producer timestamp, so each one also stores its facts (an agent run's
first request; the seeded body's timestamp is old, so by default nothing is stored). ``--profile N``
prints the N most expensive functions (cProfile, cumulative) instead of only the totals.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.enc")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")

import orjson  # noqa: E402
import psutil  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

from django.db import connection  # noqa: E402


def environ(method: str, path: str, token: str, body: bytes) -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8082",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def call(method: str, certname: str, token: str, body: bytes) -> int:
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)

    result = application(environ(method, f"/enc/v1/nodes/{certname}", token, body), start_response)
    b"".join(result)
    if hasattr(result, "close"):
        result.close()
    if not status[0].startswith("200"):
        raise SystemExit(f"{method} {certname}: {status[0]}")
    return len(status)


def bump_version() -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE enc_classificationstate SET version = version + 1, changed = now() WHERE id = 1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--method", choices=["GET", "POST"], default="GET")
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--newer-facts", action="store_true")
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--token-file", default="/tmp/stagehand-enc-bench.token")
    parser.add_argument("--body-file", default="/tmp/stagehand-enc-bench-body.json")
    args = parser.parse_args()
    token = Path(args.token_file).read_text().strip()
    body = Path(args.body_file).read_bytes() if args.method == "POST" else b""
    rng = random.Random(7)
    names = [f"bench-{rng.randrange(args.nodes):05d}.example" for _ in range(args.requests)]
    call(args.method, names[0], token, body)  # connect, load the snapshot
    if args.cold:
        bump_version()
        call(args.method, names[0], token, body)  # the new snapshot (once per version, not per node)
        names = names[1:]
    else:
        for name in names:
            call(args.method, name, token, body)
    bodies = [body] * len(names)
    if args.newer_facts:
        data = orjson.loads(body)
        start = datetime.now(UTC)
        bodies = []
        for i in range(len(names)):
            data["producer_timestamp"] = (start + timedelta(milliseconds=i)).isoformat()
            bodies.append(orjson.dumps(data))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0])
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    pg_before = sum(backend.cpu_times()[:2])
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for name, data in zip(names, bodies, strict=True):
        call(args.method, name, token, data)
    if profiler:
        profiler.disable()
    app = (time.process_time() - cpu_before) / len(names) * 1000
    wall = (time.perf_counter() - wall_before) / len(names) * 1000
    pg = (sum(backend.cpu_times()[:2]) - pg_before) / len(names) * 1000
    print(
        f"RESULT inproc method={args.method} {'cold' if args.cold else 'warm'}"
        f"{' newer-facts' if args.newer_facts else ''} requests={len(names)} "
        f"app_cpu_ms={app:.3f} postgres_cpu_ms={pg:.3f} total_cpu_ms={app + pg:.3f} wall_ms={wall:.3f} "
        f"load={' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
