"""Orchestration hooks benchmark: what the event history costs ingest, what a run-completion
evaluation costs at fleet size, and how fast a pending long-poll answers after the last report.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/stagehand_hooks \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/7 \
        .venv/bin/python bench/hooks/run.py --nodes 2000 --waits 20

The database is migrated and its inventory/reports/inbox/event tables are TRUNCATEd first: use a
scratch database. Reports are stored through the real ingest code (inbox rows processed by
``ingest.processing.drain`` in this process); the long-poll is served by a real gunicorn web
process. Results are printed and written to bench/results/hooks-<timestamp>.json.
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

BASE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from inventory import signals  # noqa: E402
from inventory.models import Node  # noqa: E402
from reports.orchestration import events, runs  # noqa: E402
from reports.orchestration.selection import Selection  # noqa: E402

FIXTURE = BASE / "tests" / "fixtures" / "puppetdb" / "report-v8-changed-with-events.json"


def report_doc(certname: str, when: dt.datetime, code_id: str) -> bytes:
    doc = json.loads(FIXTURE.read_text())
    doc.update(
        certname=certname,
        producer_timestamp=when.isoformat().replace("+00:00", "Z"),
        code_id=code_id,
        transaction_uuid=f"{certname}-{when.timestamp()}",
    )
    return orjson.dumps(doc)


def store_reports(names: list[str], code_id: str) -> float:
    """Submit one report per node to the inbox and process them all; returns seconds."""
    from ingest import inbox, processing

    when = timezone.now()
    for name in names:
        inbox.submit("store_report", 8, name, report_doc(name, when, code_id), producer_timestamp=when, publish=False)
    started = time.perf_counter()
    while processing.drain(budget_seconds=600)["claimed"]:
        pass
    return time.perf_counter() - started


def connected(on: bool) -> None:
    if on:
        events.connect()
    else:
        for sig, uid in (
            (signals.report_stored, "hooks.report_stored"),
            (signals.node_status_changed, "hooks.node_status_changed"),
            (signals.node_deactivated, "hooks.node_deactivated"),
            (signals.command_dead, "hooks.command_dead"),
        ):
            sig.disconnect(dispatch_uid=uid)


def synthetic_evaluation(n: int) -> dict:
    from reports import partitions

    now = timezone.now()
    partitions.ensure_for(now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM inventory_environment WHERE name = 'production'")
        env_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO inventory_node (certname, created, expires_facts) "
            "SELECT 'synthetic' || g || '.example', now(), true FROM generate_series(1, %s) g "
            "ON CONFLICT (certname) DO NOTHING",
            [n],
        )
        cursor.execute(
            "INSERT INTO reports_report (hash, node_id, certname, environment_id, configuration_version, "
            "puppet_version, report_format, start_time, end_time, producer_timestamp, receive_time, status, noop, "
            "type, source, metrics, logs, code_id) "
            "SELECT md5(n.certname || %s), n.id, n.certname, %s, '1', '8.0.1', 12, %s, %s, %s, %s, "
            "CASE WHEN n.id %% 50 = 0 THEN 'failed' ELSE 'unchanged' END, false, 'agent', 'puppetdb', "
            "'[]'::jsonb, '[]'::jsonb, 'code-s' FROM inventory_node n WHERE n.certname LIKE 'synthetic%%'",
            [str(now), env_id, now, now, now, now],
        )
        cursor.execute(
            "UPDATE inventory_node n SET latest_report_id = r.id, report_timestamp = r.producer_timestamp, "
            "latest_report_status = r.status, latest_report_code_id = r.code_id, report_environment_id = %s "
            "FROM reports_report r WHERE r.node_id = n.id AND r.producer_timestamp = %s "
            "AND n.certname LIKE 'synthetic%%'",
            [env_id, now],
        )
    known = dict(Node.objects.filter(certname__startswith="synthetic").values_list("certname", "id"))
    cond = runs.Condition(reported_after=now - dt.timedelta(minutes=5), code_id="code-s")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        evaluation = runs.evaluate(known, [], cond)
        timings.append(time.perf_counter() - started)
    assert evaluation.complete and len(evaluation.done) == len(known)
    out = {"eval_evaluate_ms_median": round(statistics.median(timings) * 1000, 1)}
    for details in ("all", "problems"):
        request = runs.WaitRequest(Selection(certnames=sorted(known)), cond, 0, False, details == "problems")
        started = time.perf_counter()
        result = runs.wait(request)
        body = orjson.dumps(result)
        out[f"eval_wait_answer_{details}_ms"] = round((time.perf_counter() - started) * 1000, 1)
        out[f"eval_wait_answer_{details}_bytes"] = len(body)
    out["eval_failed_nodes"] = result["summary"]["failed"]
    return out


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--waits", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="alternating ingest rounds without/with hooks")
    parser.add_argument("--eval-nodes", type=int, default=20000, help="synthetic fleet size for the evaluation cost")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE inventory_node, reports_report, reports_resourceevent, reports_event, ingest_command, "
            "reports_webhook CASCADE"
        )
    names = [f"bench{i:05d}.example" for i in range(args.nodes)]
    results: dict = {"nodes": args.nodes, "command": " ".join(sys.argv)}

    # 1. Ingest with and without the event-history receivers (after a warm-up run creating nodes),
    # alternating rounds so that load from other processes on the machine hits both alike.
    store_reports(names, "warmup")
    plain, hooked = [], []
    for round_no in range(args.rounds):
        connected(False)
        plain.append(store_reports(names, f"code-a{round_no}"))
        connected(True)
        hooked.append(store_reports(names, "code-b" if round_no == args.rounds - 1 else f"code-b{round_no}"))
    without, with_hooks = statistics.median(plain), statistics.median(hooked)
    results["ingest_rounds"] = args.rounds
    results["ingest_reports_per_s_without_hooks"] = [round(args.nodes / t, 1) for t in plain]
    results["ingest_reports_per_s_with_hooks"] = [round(args.nodes / t, 1) for t in hooked]
    results["ingest_overhead_percent_of_medians"] = round(100 * (with_hooks - without) / without, 1)

    # 2. One run-completion evaluation over every node (two indexed queries + Python).
    known = dict(Node.objects.values_list("certname", "id"))
    cond = runs.Condition(reported_after=timezone.now() - dt.timedelta(hours=1), code_id="code-b")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        evaluation = runs.evaluate(known, [], cond)
        timings.append(time.perf_counter() - started)
    assert evaluation.complete, "every node should be done"
    results["evaluate_all_nodes_ms_median"] = round(statistics.median(timings) * 1000, 1)
    request = runs.WaitRequest(Selection(environment="production"), cond, 0)
    started = time.perf_counter()
    result = runs.wait(request)
    results["wait_answer_all_nodes_ms"] = round((time.perf_counter() - started) * 1000, 1)
    results["wait_answer_bytes"] = len(orjson.dumps(result))

    # 2b. The same at a larger synthetic fleet (rows written set-based, not through ingest).
    results["eval_nodes"] = args.eval_nodes
    results.update(synthetic_evaluation(args.eval_nodes))

    # 3. Wake-up latency of a pending long-poll in a real gunicorn web process.
    from django.contrib.auth import get_user_model

    from api.models import ApiToken
    from tests.support.stack import running, service_env, start_service

    user, _ = get_user_model().objects.get_or_create(username="bench")
    _, raw = ApiToken.issue(user=user, name="bench", scopes=["read"])
    log_dir = BASE / "test-artifacts" / "bench-hooks"
    latencies = []
    with running(start_service("web", service_env(), log_dir)) as (web,):
        for i in range(args.waits):
            name = names[i]
            since = timezone.now()
            box = {}

            def waiter(name=name, since=since, box=box):
                box["r"] = requests.post(
                    web.url + "/api/v1/runs/wait",
                    json={"certnames": [name], "reported_after": since.isoformat(), "timeout": 60},
                    headers={"Authorization": f"Bearer {raw}"},
                    timeout=90,
                )
                box["t"] = time.perf_counter()

            thread = threading.Thread(target=waiter)
            thread.start()
            time.sleep(0.5 if i else 2.0)  # let the request reach its wait (the first starts the listener)
            store_reports([name], f"code-w{i}")
            committed = time.perf_counter()
            thread.join(90)
            assert box["r"].json()["complete"], box["r"].text
            latencies.append(box["t"] - committed)
    results["wakeup_ms_p50"] = round(pct(latencies, 50) * 1000, 1)
    results["wakeup_ms_p90"] = round(pct(latencies, 90) * 1000, 1)
    results["wakeup_ms_max"] = round(max(latencies) * 1000, 1)

    out = BASE / "bench" / "results" / f"hooks-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(BASE)}")


if __name__ == "__main__":
    main()
