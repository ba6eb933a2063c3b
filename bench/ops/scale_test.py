"""Scale test on one machine: two web, two enc, two ingest and two worker processes (plus beat)
behind HAProxy, a steady mixed load (commands, queries, classifications), and one process of
each kind killed (SIGKILL) and restarted in the middle.

    DATABASE_URL=postgresql://…/stagehand_scale CELERY_BROKER_URL=redis://…/7 \
        .venv/bin/python bench/ops/scale_test.py [--phase 20] [--rate 8]

Reports per phase (before / during the kill+restart / after): requests sent, failed, throughput
per kind; and commands lost = accepted (HTTP 200 with a uuid) but not in the inbox or not applied
once the workers have drained it. Writes bench/results/scale_test.json. The database in
DATABASE_URL is migrated and its inbox/nodes of the ``scale-*`` certnames are removed first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.worker")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from api.models import ApiToken  # noqa: E402
from ingest.models import Command  # noqa: E402
from tests.support.stack import BIN_DIR, free_port, service_env, spawn, start_service, start_worker, wait_http  # noqa: E402

FIXTURES = BASE_DIR / "tests" / "fixtures" / "puppetdb"
KINDS = ("command", "query", "classify")

HAPROXY_TEMPLATE = """
global
    maxconn 2000
defaults
    mode http
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    default-server inter 1s fall 1 rise 2 on-marked-down shutdown-sessions
frontend main
    bind 127.0.0.1:{port}
    acl is_write path_beg /pdb/cmd/ /reports/upload
    acl is_enc path_beg /enc/
    use_backend ingest if is_write
    use_backend enc if is_enc
    default_backend web
{backends}
"""


def backend(name: str, ports: list[int]) -> str:
    servers = "\n".join(f"    server {name}{i} 127.0.0.1:{p} check" for i, p in enumerate(ports, 1))
    return (
        f"backend {name}\n    balance roundrobin\n    option httpchk\n    http-check send meth GET uri /readyz\n"
        f"    retry-on conn-failure empty-response\n{servers}\n"
    )


class Load:
    def __init__(self, base: str, token: str, rate: float, certnames: list[str]):
        self.base, self.rate, self.certnames = base, rate, certnames
        self.headers = {"Authorization": f"Bearer {token}"}
        self.stop = threading.Event()
        self.results: list[tuple[float, str, bool, str]] = []  # (t, kind, ok, detail)
        self.accepted: list[str] = []
        self.lock = threading.Lock()
        self.facts = json.loads((FIXTURES / "facts-v5-baseline-agent-node.json").read_text())

    def record(self, kind, ok, detail=""):
        with self.lock:
            self.results.append((time.monotonic(), kind, ok, detail))

    def one(self, session, kind, i):
        certname = self.certnames[i % len(self.certnames)]
        try:
            if kind == "command":
                now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                body = {**self.facts, "certname": certname, "producer_timestamp": now}
                body["values"] = {**body["values"], "scale_seq": i}
                r = session.post(
                    f"{self.base}/pdb/cmd/v1",
                    params={"command": "replace_facts", "version": 5, "certname": certname},
                    json=body,
                    headers=self.headers,
                    timeout=30,
                )
                ok = r.status_code == 200 and "uuid" in r.json()
                if ok:
                    with self.lock:
                        self.accepted.append(r.json()["uuid"])
            elif kind == "query":
                r = session.get(
                    f"{self.base}/pdb/query/v4/nodes", params={"limit": 20}, headers=self.headers, timeout=30
                )
                ok = r.status_code == 200
            else:
                r = session.get(f"{self.base}/enc/v1/nodes/{certname}", headers=self.headers, timeout=30)
                ok = r.status_code == 200
            self.record(kind, ok, "" if ok else f"HTTP {r.status_code}: {r.text[:120]}")
        except requests.RequestException as exc:
            self.record(kind, False, type(exc).__name__)

    def run_kind(self, kind):
        session = requests.Session()
        interval = 1.0 / self.rate
        i = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            self.one(session, kind, i)
            i += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()

    def start(self):
        threads = []
        for kind in KINDS:
            for _ in range(2):  # two clients per kind
                t = threading.Thread(target=self.run_kind, args=(kind,), daemon=True)
                t.start()
                threads.append(t)
        return threads


def phase_summary(results, start, end):
    out = {}
    for kind in KINDS:
        rows = [r for r in results if r[1] == kind and start <= r[0] < end]
        failed = [r for r in rows if not r[2]]
        details = defaultdict(int)
        for r in failed:
            details[r[3]] += 1
        out[kind] = {
            "sent": len(rows),
            "failed": len(failed),
            "ok_per_second": round((len(rows) - len(failed)) / (end - start), 2),
            **({"failures": dict(details)} if failed else {}),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", type=float, default=20)
    parser.add_argument("--rate", type=float, default=8, help="requests/s per client (2 clients per kind)")
    parser.add_argument("--nodes", type=int, default=50)
    args = parser.parse_args()

    call_command("migrate", "--noinput", verbosity=0)
    Command.objects.filter(certname__startswith="scale-").delete()
    user, _ = get_user_model().objects.get_or_create(username="scale-test")
    _, token = ApiToken.issue(user=user, name="scale test", scopes=["admin"])
    certnames = [f"scale-{i:04d}.example.com" for i in range(args.nodes)]

    work = Path(tempfile.mkdtemp(prefix="stagehand-scale-"))
    logs = work / "logs"
    env = service_env(work, INGEST_REQUEUE_AFTER="5", INGEST_REQUEUE_INTERVAL="5", LOG_LEVEL="WARNING")
    # The bench's own clients are trusted like any authenticated client; no anonymous access.
    procs: dict[str, object] = {}
    ports = {kind: [free_port(), free_port()] for kind in ("web", "ingest", "enc")}
    print(f"starting 2x web/ingest/enc/worker + beat + haproxy (logs in {logs})", flush=True)
    for kind, kind_ports in ports.items():
        for n, port in enumerate(kind_ports, 1):
            procs[f"{kind}{n}"] = start_service(kind, dict(env), logs, port=port)
            procs[f"{kind}{n}"].name = f"{kind}{n}"
    for n in (1, 2):
        procs[f"worker{n}"] = start_worker(dict(env), logs, name=f"worker{n}", concurrency=1)
    beat_env = dict(env, DJANGO_SETTINGS_MODULE="config.settings.worker")
    procs["beat"] = spawn(
        "beat",
        [str(BIN_DIR / "celery"), "-A", "config", "beat", "--schedule", str(work / "beat-schedule"), "-l", "WARNING"],
        beat_env,
        logs,
    )
    lb_port = free_port()
    cfg = work / "haproxy.cfg"
    cfg.write_text(HAPROXY_TEMPLATE.format(port=lb_port, backends="\n".join(backend(k, p) for k, p in ports.items())))
    haproxy = subprocess.Popen(
        ["haproxy", "-f", str(cfg), "-db"],
        stdout=open(logs / "haproxy.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{lb_port}"
    wait_http(base + "/healthz", alive=haproxy.poll)
    time.sleep(3)  # health checks mark every server up

    load = Load(base, token, args.rate, certnames)
    t0 = time.monotonic()
    threads = load.start()
    time.sleep(args.phase)
    t1 = time.monotonic()
    restarts = {}
    for name in ("web1", "ingest1", "enc1", "worker1"):
        procs[name].kill()
    kill_at = time.monotonic()
    for name in ("web1", "ingest1", "enc1"):
        kind = name[:-1]
        procs[name] = start_service(kind, dict(env), logs, port=ports[kind][0])
        restarts[name] = round(time.monotonic() - kill_at, 2)
    procs["worker1"] = start_worker(dict(env), logs, name="worker1b", concurrency=1)
    restarts["worker1"] = round(time.monotonic() - kill_at, 2)
    remaining = args.phase - (time.monotonic() - t1)
    if remaining > 0:
        time.sleep(remaining)
    t2 = time.monotonic()
    time.sleep(args.phase)
    t3 = time.monotonic()
    load.stop.set()
    for t in threads:
        t.join(35)

    # Lost commands: accepted but not in the inbox, or never applied once the workers drained.
    deadline = time.monotonic() + 120
    accepted = set(load.accepted)
    while time.monotonic() < deadline:
        pending = Command.objects.filter(uuid__in=accepted, state="pending").count()
        if pending == 0:
            break
        time.sleep(2)
    rows = dict(Command.objects.filter(uuid__in=accepted).values_list("uuid", "state"))
    states = defaultdict(int)
    for state in rows.values():
        states[state] += 1
    missing = len(accepted) - len(rows)
    figures = {
        "command": "bench/ops/scale_test.py " + " ".join(sys.argv[1:]),
        "when": dt.datetime.now(dt.UTC).isoformat(),
        "phase_seconds": args.phase,
        "clients": "2 per kind, each at --rate requests/s",
        "rate_per_client": args.rate,
        "restart_seconds_after_kill": restarts,
        "before": phase_summary(load.results, t0, t1),
        "during_kill_and_restart": phase_summary(load.results, t1, t2),
        "after": phase_summary(load.results, t2, t3),
        "commands_accepted": len(accepted),
        "commands_missing_from_inbox": missing,
        "commands_by_state_after_drain": dict(states),
        "commands_lost": missing + states.get("pending", 0) + states.get("dead", 0),
    }
    print(json.dumps(figures, indent=2))
    (BASE_DIR / "bench" / "results" / "scale_test.json").write_text(json.dumps(figures, indent=2) + "\n")

    haproxy.send_signal(signal.SIGTERM)
    haproxy.wait(10)
    for proc in procs.values():
        proc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
