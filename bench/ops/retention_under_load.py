"""Ingest-like insert throughput while report day partitions are dropped.

    DATABASE_URL=... .venv/bin/python bench/ops/retention_under_load.py [--days 10] [--reports-per-day 2000]
        [--writers 4] [--phase 6]

1. Fills ``--days`` old days (15+ days ago) with reports and events (set-based SQL).
2. Starts ``--writers`` threads, each on its own connection, committing one report with 10
   events per transaction into today's partition (what the ingest worker does), and one reader
   running the "latest reports of a node" query in a loop.
3. Phases of ``--phase`` seconds: before, during (``purge_reports`` drops every old day, detach
   concurrently + drop under lock_timeout), after. Prints and writes per-phase throughput and the
   slowest single transaction to ``bench/results/retention_under_load.json``.

Runs against the migrated database in DATABASE_URL (``manage.py migrate`` first); leaves its rows
in today's partition (certnames ``bench-retention-*``) and removes them at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.worker")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from inventory import retention  # noqa: E402
from inventory.models import Environment, Node  # noqa: E402
from reports import partitions  # noqa: E402


def dsn() -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        user=db.get("USER") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        password=db.get("PASSWORD") or None,
    )


def fill_old_days(days: int, per_day: int, node_id: int, env_id: int) -> None:
    now = timezone.now()
    with connection.cursor() as cursor:
        for d in range(days):
            when = now - dt.timedelta(days=15 + d)
            day_start = when.replace(hour=0, minute=0, second=0, microsecond=0)
            partitions.ensure_for(when)
            cursor.execute(
                """
                WITH r AS (
                  INSERT INTO reports_report (hash, node_id, certname, environment_id, configuration_version,
                    puppet_version, report_format, start_time, end_time, producer_timestamp, receive_time, status,
                    noop, type, source, metrics, logs)
                  SELECT md5(g::text || %s), %s, 'bench-retention-old', %s, '1', '7.23.0', 12, ts, ts, ts, ts,
                         'changed', false, 'agent', 'puppetdb', '[]', '[]'
                  FROM generate_series(1, %s) g, LATERAL (SELECT %s::timestamptz + g * interval '1 second') t(ts)
                  RETURNING id, producer_timestamp)
                INSERT INTO reports_resourceevent (report_id, report_timestamp, node_id, certname, environment_id,
                  status, timestamp, resource_type, resource_title)
                SELECT r.id, r.producer_timestamp, %s, 'bench-retention-old', %s, 'success', r.producer_timestamp,
                       'File', '/tmp/' || e FROM r, generate_series(1, 10) e
                """,
                [str(day_start), node_id, env_id, per_day, day_start, node_id, env_id],
            )


class Writer(threading.Thread):
    def __init__(self, index, node_id, env_id, stop, samples):
        super().__init__(daemon=True)
        self.index, self.node_id, self.env_id, self.stop, self.samples = index, node_id, env_id, stop, samples

    def run(self):
        with psycopg.connect(dsn()) as conn:
            n = 0
            while not self.stop.is_set():
                started = time.perf_counter()
                now = dt.datetime.now(dt.UTC)
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(
                        "INSERT INTO reports_report (hash, node_id, certname, environment_id, configuration_version,"
                        " puppet_version, report_format, start_time, end_time, producer_timestamp, receive_time,"
                        " status, noop, type, source, metrics, logs) VALUES (%s,%s,'bench-retention-new',%s,'1',"
                        "'7.23.0',12,%s,%s,%s,%s,'changed',false,'agent','puppetdb','[]','[]') RETURNING id",
                        [f"w{self.index}-{n}", self.node_id, self.env_id, now, now, now, now],
                    )
                    report_id = cur.fetchone()[0]
                    cur.executemany(
                        "INSERT INTO reports_resourceevent (report_id, report_timestamp, node_id, certname,"
                        " environment_id, status, timestamp, resource_type, resource_title) VALUES"
                        " (%s,%s,%s,'bench-retention-new',%s,'success',%s,'File',%s)",
                        [(report_id, now, self.node_id, self.env_id, now, f"/tmp/{i}") for i in range(10)],
                    )
                self.samples.append((time.monotonic(), time.perf_counter() - started))
                n += 1


class Reader(threading.Thread):
    def __init__(self, node_id, stop, samples):
        super().__init__(daemon=True)
        self.node_id, self.stop, self.samples = node_id, stop, samples

    def run(self):
        with psycopg.connect(dsn(), autocommit=True) as conn:
            while not self.stop.is_set():
                started = time.perf_counter()
                conn.execute(
                    "SELECT id, status FROM reports_report WHERE node_id = %s ORDER BY producer_timestamp DESC"
                    " LIMIT 20",
                    [self.node_id],
                ).fetchall()
                self.samples.append((time.monotonic(), time.perf_counter() - started))


def summarise(samples, start, end):
    inside = [latency for ts, latency in samples if start <= ts < end]
    if not inside:
        return {"per_second": 0, "count": 0}
    return {
        "count": len(inside),
        "per_second": round(len(inside) / (end - start), 1),
        "median_ms": round(statistics.median(inside) * 1000, 2),
        "p99_ms": round(sorted(inside)[int(len(inside) * 0.99) - 1] * 1000, 2) if len(inside) > 1 else None,
        "max_ms": round(max(inside) * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--reports-per-day", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--phase", type=float, default=6.0)
    parser.add_argument("--lock-timeout-ms", type=int, default=2000)
    args = parser.parse_args()

    env_id = Environment.objects.get_or_create(name="bench")[0].id
    node = Node.objects.get_or_create(certname="bench-retention")[0]
    partitions.ensure_for(timezone.now())
    print(f"filling {args.days} old days x {args.reports_per_day} reports (10 events each)...", flush=True)
    fill_old_days(args.days, args.reports_per_day, node.id, env_id)
    old_days = [d for d in partitions.existing_days() if d < (timezone.now() - dt.timedelta(days=14)).date()]

    stop = threading.Event()
    writes, reads = [], []
    threads = [Writer(i, node.id, env_id, stop, writes) for i in range(args.writers)] + [Reader(node.id, stop, reads)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    time.sleep(args.phase)
    t1 = time.monotonic()
    result = retention.purge_reports(dt.timedelta(days=14), lock_timeout_ms=args.lock_timeout_ms)
    t2 = time.monotonic()
    drop_seconds = t2 - t1
    if drop_seconds < args.phase:
        time.sleep(args.phase - drop_seconds)
    t3 = time.monotonic()
    time.sleep(args.phase)
    t4 = time.monotonic()
    stop.set()
    for t in threads:
        t.join(10)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM reports_resourceevent WHERE node_id = %s", [node.id])
        cursor.execute("DELETE FROM reports_report WHERE node_id = %s", [node.id])
    Node.objects.filter(pk=node.pk).delete()

    figures = {
        "command": "bench/ops/retention_under_load.py " + " ".join(sys.argv[1:]),
        "when": timezone.now().isoformat(),
        "old_days_dropped": result.count,
        "old_days_found": len(old_days),
        "days_skipped_lock_busy": result.skipped,
        "drop_seconds": round(drop_seconds, 3),
        "writers": args.writers,
        "writes": {
            "before": summarise(writes, t0, t1),
            "during_drop": summarise(writes, t1, t2),
            "during_drop_window": summarise(writes, t1, t3),
            "after": summarise(writes, t3, t4),
        },
        "reads": {
            "before": summarise(reads, t0, t1),
            "during_drop": summarise(reads, t1, t2),
            "after": summarise(reads, t3, t4),
        },
    }
    print(json.dumps(figures, indent=2))
    out = BASE_DIR / "bench" / "results" / "retention_under_load.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
