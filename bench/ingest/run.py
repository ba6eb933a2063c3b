"""Side-by-side ingest benchmark: the same fleet workload posted to Stagehand and to a real
PuppetDB, in one run.

    DATABASE_URL=... CELERY_BROKER_URL=... .venv/bin/python bench/ingest/run.py \
        --nodes 200 --runs 2 --targets stagehand,puppetdb

Stagehand: this script starts an ``ingest`` gunicorn process and a Celery worker on the given
database (its inventory/reports/inbox tables are TRUNCATEd first). PuppetDB: started beforehand
with ``bench/puppetdb/pdb.sh reset`` (``--puppetdb-url``, ``--puppetdb-db``).

Reported per target: end-to-end commands/s (first POST until the queue is drained), HTTP accept
latency p50/p99, database bytes per node, peak worker RSS. Results go to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import psutil
import psycopg
import requests

HERE = Path(__file__).resolve().parent
BASE = HERE.parents[1]
sys.path.insert(0, str(HERE))
import fleet as fleet_mod  # noqa: E402

BIN = Path(sys.executable).parent


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else 0.0


class Sampler(threading.Thread):
    """Peak RSS of a set of process trees."""

    def __init__(self, pids_fn):
        super().__init__(daemon=True)
        self.pids_fn, self.peak, self.stop_flag = pids_fn, 0, False

    def run(self):
        while not self.stop_flag:
            total = 0
            for pid in self.pids_fn():
                try:
                    proc = psutil.Process(pid)
                    total += proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.5)


def post_all(url: str, bodies: list[tuple[str, int, str, bytes]], concurrency: int) -> list[float]:
    latencies: list[float] = []
    q: queue.Queue = queue.Queue()
    for item in bodies:
        q.put(item)
    errors: list[str] = []

    def worker():
        session = requests.Session()
        while True:
            try:
                command, version, certname, body = q.get_nowait()
            except queue.Empty:
                return
            params = {"command": command, "version": version, "certname": certname}
            t = time.perf_counter()
            resp = session.post(
                url + "/pdb/cmd/v1",
                params=params,
                data=body,
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                timeout=120,
            )
            latencies.append(time.perf_counter() - t)
            if resp.status_code != 200:
                errors.append(f"{resp.status_code} {resp.text[:200]}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise SystemExit(f"{len(errors)} commands refused, first: {errors[0]}")
    return latencies


def db_conn(url: str, dbname: str | None = None):
    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        dbname=dbname or parts.path.lstrip("/"),
        autocommit=True,
    )


SH_TABLES = (
    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind = 'r' AND (c.relname LIKE 'inventory\\_%%' OR c.relname LIKE 'reports\\_%%')"
)


def run_stagehand(args, bodies, n_nodes) -> dict:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.ingest",
        LOG_LEVEL="WARNING",
        INGEST_BATCH_SIZE=str(args.batch),
        # Loopback gets the write scope without credentials, like PuppetDB's plain-HTTP port.
        OPEN_NETWORKS="127.0.0.1/32",
        OPEN_NETWORK_SCOPES="write",
    )
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "-v", "0"], cwd=BASE, env=env, check=True)
    db = db_conn(os.environ["DATABASE_URL"])
    tables = [
        r[0]
        for r in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND (tablename LIKE 'inventory\\_%%' "
            "OR tablename LIKE 'reports\\_%%' OR tablename = 'ingest_command') AND tablename NOT LIKE 'reports\\_%%\\_p%%'"
        )
    ]
    db.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    db.execute("VACUUM")
    import redis

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).delete("ingest")
    with socket.socket() as sock:  # a free port (never guess one: other services share the host)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (BASE / "var").mkdir(exist_ok=True)
    logs = open(BASE / "var" / "stagehand-ingest-bench.log", "wb")  # noqa: SIM115
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "-c",
            "config/gunicorn.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.web_workers),
            "--threads",
            "4",
        ],
        cwd=BASE,
        env=env,
        stdout=logs,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--queues",
            "ingest",
            "--concurrency",
            str(args.workers),
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"bench-{os.getpid()}@%h",
        ],
        cwd=BASE,
        env=dict(env, DJANGO_SETTINGS_MODULE="config.settings.worker"),
        stdout=logs,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if web.poll() is not None:
                raise SystemExit("the Stagehand ingest process exited; see var/stagehand-ingest-bench.log")
            try:
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        time.sleep(3)  # worker boot
        sampler = Sampler(lambda: [worker.pid])
        sampler.start()
        t0 = time.perf_counter()
        latencies = post_all(url, bodies, args.concurrency)
        posted = time.perf_counter() - t0
        while db.execute("SELECT count(*) FROM ingest_command WHERE state = 'pending'").fetchone()[0]:
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        sampler.stop_flag = True
        states = dict(db.execute("SELECT state, count(*) FROM ingest_command GROUP BY state").fetchall())
        data_bytes = db.execute(SH_TABLES).fetchone()[0]
        inbox_bytes = db.execute("SELECT pg_total_relation_size('ingest_command')").fetchone()[0]
        counts = {
            "nodes": db.execute("SELECT count(*) FROM inventory_node").fetchone()[0],
            "catalog_versions": db.execute("SELECT count(*) FROM inventory_catalog").fetchone()[0],
            "resources": db.execute("SELECT count(*) FROM inventory_resource").fetchone()[0],
            "resource_sets": db.execute("SELECT count(*) FROM inventory_resourceset").fetchone()[0],
            "reports": db.execute("SELECT count(*) FROM reports_report").fetchone()[0],
            "events": db.execute("SELECT count(*) FROM reports_resourceevent").fetchone()[0],
        }
        return {
            "commands": len(bodies),
            "post_seconds": round(posted, 2),
            "elapsed_seconds": round(elapsed, 2),
            "commands_per_second": round(len(bodies) / elapsed, 1),
            "accept_p50_ms": round(pct(latencies, 50) * 1000, 1),
            "accept_p99_ms": round(pct(latencies, 99) * 1000, 1),
            "db_bytes_per_node": int(data_bytes / n_nodes),
            "inbox_bytes_per_node_before_purge": int(inbox_bytes / n_nodes),
            "worker_peak_rss_mb": round(sampler.peak / 2**20, 1),
            "states": states,
            "counts": counts,
        }
    finally:
        for proc in (web, worker):
            try:
                os.killpg(proc.pid, 15)
                proc.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, 9)


def run_puppetdb(args, bodies, n_nodes) -> dict:
    url = args.puppetdb_url
    admin = db_conn(os.environ["DATABASE_URL"], "postgres")
    size0 = admin.execute("SELECT pg_database_size(%s)", [args.puppetdb_db]).fetchone()[0]
    pid_file = Path(f"/var/tmp/stagehand-puppetdb-{urlsplit(url).port}/pid")
    java_pid = int(pid_file.read_text()) if pid_file.exists() else None
    sampler = Sampler(lambda: [java_pid] if java_pid else [])
    sampler.start()

    def depth() -> int:
        status = requests.get(url + "/status/v1/services/puppetdb-status", timeout=10).json()
        return status["status"]["queue_depth"]

    t0 = time.perf_counter()
    latencies = post_all(url, bodies, args.concurrency)
    posted = time.perf_counter() - t0
    zero = 0
    while zero < 2:
        zero = zero + 1 if depth() == 0 else 0
        time.sleep(0.2)
    elapsed = time.perf_counter() - t0
    sampler.stop_flag = True
    size1 = admin.execute("SELECT pg_database_size(%s)", [args.puppetdb_db]).fetchone()[0]
    nodes = requests.get(url + "/pdb/query/v4/nodes", timeout=60).json()
    reports = requests.get(url + "/pdb/query/v4/reports", params={"limit": 1, "include_total": "true"}, timeout=60)
    return {
        "commands": len(bodies),
        "post_seconds": round(posted, 2),
        "elapsed_seconds": round(elapsed, 2),
        "commands_per_second": round(len(bodies) / elapsed, 1),
        "accept_p50_ms": round(pct(latencies, 50) * 1000, 1),
        "accept_p99_ms": round(pct(latencies, 99) * 1000, 1),
        "db_bytes_per_node": int((size1 - size0) / n_nodes),
        "db_bytes_per_node_note": "pg_database_size growth during the run",
        "worker_peak_rss_mb": round(sampler.peak / 2**20, 1),
        "counts": {"nodes": len(nodes), "reports": int(reports.headers.get("X-Records", -1))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--roles", type=int, default=5)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--facts", type=int, default=500)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="HTTP client threads")
    parser.add_argument("--workers", type=int, default=2, help="Stagehand Celery worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="Stagehand ingest gunicorn workers")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--targets", default="stagehand,puppetdb")
    parser.add_argument("--puppetdb-url", default="http://127.0.0.1:8085")
    parser.add_argument("--puppetdb-db", default="puppetdb_bench")
    args = parser.parse_args()

    fleet = fleet_mod.Fleet(args.nodes, roles=args.roles, resources=args.resources, facts=args.facts)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=args.runs)
    bodies = []
    for run in range(args.runs):
        for command, version, certname, payload in fleet.run_commands(run, start + dt.timedelta(minutes=30 * run)):
            bodies.append((command, version, certname, gzip.compress(orjson.dumps(payload), 1)))
    print(
        f"workload: {args.nodes} nodes x {args.runs} runs = {len(bodies)} commands, "
        f"~{args.resources} resources/catalog, ~{args.facts} facts/node",
        flush=True,
    )
    results = {"workload": vars(args), "when": dt.datetime.now(dt.UTC).isoformat(), "targets": {}}
    for target in args.targets.split(","):
        print(f"--- {target}", flush=True)
        result = (
            run_stagehand(args, bodies, args.nodes) if target == "stagehand" else run_puppetdb(args, bodies, args.nodes)
        )
        results["targets"][target] = result
        print(json.dumps(result, indent=1), flush=True)
    t = results["targets"]
    if "stagehand" in t and "puppetdb" in t:
        results["ratio_commands_per_second"] = round(
            t["stagehand"]["commands_per_second"] / t["puppetdb"]["commands_per_second"], 2
        )
        results["ratio_db_bytes_per_node"] = round(
            t["stagehand"]["db_bytes_per_node"] / max(t["puppetdb"]["db_bytes_per_node"], 1), 2
        )
        print(
            f"ratio commands/s: {results['ratio_commands_per_second']}x, "
            f"db bytes/node: {results['ratio_db_bytes_per_node']}x",
            flush=True,
        )
    out = BASE / "bench" / "results" / f"ingest-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"written {out}")


if __name__ == "__main__":
    main()
