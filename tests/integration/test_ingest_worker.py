"""The pipeline with real processes: gunicorn ingest + a real Celery worker and Redis broker.
A worker SIGKILLed in the middle of thousands of commands, and a flushed broker, lose nothing
and apply nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import time

import orjson
import pytest
import redis
import requests
from django.conf import settings

from ingest import inbox
from ingest.models import Command
from inventory.models import Catalog, Factset, Node
from reports.models import Report
from tests.support import ingest as ing
from tests.support.stack import running, service_env, start_service, start_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_storage_caches")]

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def _wait(predicate, timeout=180, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _pending():
    return Command.objects.filter(state="pending").count()


def test_http_to_worker_and_wait_for_completion(tmp_path, artifacts_dir):
    env = service_env(tmp_path, INGEST_REQUEUE_AFTER="1")
    with running(start_service("ingest", env, artifacts_dir), start_worker(env, artifacts_dir)) as (ingest, _w):
        url = ingest.url + "/pdb/cmd/v1"
        doc = ing.facts(certname="wait.example.com", when=T0)
        q = {"command": "replace_facts", "version": 5, "certname": doc["certname"], "secondsToWaitForCompletion": 30}
        resp = requests.post(
            url, params=q, data=json.dumps(doc), headers={"Content-Type": "application/json"}, timeout=60
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["processed"] is True and resp.json()["timed_out"] is False
        assert Factset.objects.get(node__certname="wait.example.com").facts == doc["values"]
        # A command that fails in the worker answers 503 with the error.
        bad = ing.facts(certname="bad.example.com", when=T0, broken="a\u0000b")
        q["certname"] = bad["certname"]
        resp = requests.post(
            url, params=q, data=json.dumps(bad), headers={"Content-Type": "application/json"}, timeout=60
        )
        assert resp.status_code == 503 and resp.json()["processed"] is True and resp.json()["error"]
        # The http report processor's upload goes through the same pipeline.
        body = (ing.FIXTURES / "ingest" / "report-format12-puppet-apply.yaml").read_bytes()
        resp = requests.post(
            ingest.url + "/reports/upload", data=body, headers={"Content-Type": "application/x-yaml"}, timeout=30
        )
        assert resp.status_code == 200
        _wait(lambda: Report.objects.filter(certname="vm", source="http").exists(), what="the uploaded report")


def _bulk_commands(n_nodes: int) -> int:
    """Insert, as the receiver would, facts + catalog + report for ``n_nodes`` nodes."""
    report = ing.report()
    rows = []
    for i in range(n_nodes):
        name = f"kill-{i:05d}.example.com"
        when = T0 + dt.timedelta(seconds=i)
        f = ing.facts(certname=name, when=when, index=i)
        c = ing.catalog(certname=name, when=when, extra=5 + i % 7)
        r = dict(report, certname=name, producer_timestamp=ing.ts(when), transaction_uuid=f"txn-{i}")
        for command, payload in (("replace_facts", f), ("replace_catalog", c), ("store_report", r)):
            version = {"replace_facts": 5, "replace_catalog": 9, "store_report": 8}[command]
            rows.append(
                Command(
                    command=command,
                    version=version,
                    certname=name,
                    producer_timestamp=when,
                    payload=orjson.dumps(payload),
                )
            )
    Command.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def _assert_exactly_once(n_nodes: int):
    assert Command.objects.filter(state="done").count() == 3 * n_nodes
    assert Node.objects.filter(certname__startswith="kill-").count() == n_nodes
    assert Factset.objects.filter(node__certname__startswith="kill-").count() == n_nodes
    # A catalog applied twice would show compiles == 2; a report twice, two rows.
    cats = Catalog.objects.filter(node__certname__startswith="kill-")
    assert cats.count() == n_nodes and set(cats.values_list("compiles", flat=True)) == {1}
    assert Report.objects.filter(certname__startswith="kill-").count() == n_nodes
    assert Report.objects.values("hash").distinct().count() == n_nodes
    for node in Node.objects.filter(certname__startswith="kill-").order_by("?")[:20]:
        i = int(node.certname[5:10])
        assert node.factset.facts["index"] == i
        assert node.latest_report_transaction_uuid == f"txn-{i}"


def test_worker_sigkilled_mid_batch_then_restarted(tmp_path, artifacts_dir):
    n_nodes = 1000  # 3,000 commands
    total = _bulk_commands(n_nodes)
    env = service_env(tmp_path, INGEST_BATCH_SIZE="100")
    worker = start_worker(env, artifacts_dir, name="worker-1", concurrency=2)
    try:
        inbox.requeue_stuck(older_than=0)
        _wait(lambda: Command.objects.filter(state="done").count() >= 300, what="the first batches")
        done_before = Command.objects.filter(state="done").count()
        worker.kill()  # SIGKILL to the whole process group: no shutdown, no ack
    finally:
        worker.stop()
    assert 0 < done_before < total
    assert _pending() > 0
    worker2 = start_worker(env, artifacts_dir, name="worker-2", concurrency=2)
    with running(worker2):
        # Unacked messages of the killed worker come back only after the broker's visibility
        # timeout; the beat job re-queues the pending commands instead.
        inbox.requeue_stuck(older_than=0)
        _wait(lambda: _pending() == 0, timeout=600, what="the inbox to drain")
    _assert_exactly_once(n_nodes)


def test_broker_flushed_while_commands_queued(tmp_path, artifacts_dir):
    env = service_env(tmp_path)
    n = 40
    with running(start_service("ingest", env, artifacts_dir)) as (ingest,):
        for i in range(n):
            doc = ing.facts(certname=f"flush-{i}.example.com", when=T0)
            q = {"command": "replace_facts", "version": 5, "certname": doc["certname"]}
            resp = requests.post(
                ingest.url + "/pdb/cmd/v1",
                params=q,
                data=json.dumps(doc),
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            assert resp.status_code == 200
    # kombu's redis+socket:// (the embedded broker) is redis-py's unix://
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL.replace("redis+socket://", "unix://", 1))
    assert client.llen("ingest") >= n  # the tasks are queued...
    client.flushdb()  # ...and lost
    assert _pending() == n
    with running(start_worker(env, artifacts_dir)):
        assert inbox.requeue_stuck(older_than=0) == n
        _wait(lambda: _pending() == 0, what="the inbox to drain")
    assert Factset.objects.filter(node__certname__startswith="flush-").count() == n


def test_ingest_accepts_while_the_broker_is_down(tmp_path, artifacts_dir):
    # Nothing listens on port 1: every publish fails, the command is still committed.
    env = service_env(
        tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:1/0", CELERY_RESULT_BACKEND="redis://127.0.0.1:1/0"
    )
    with running(start_service("ingest", env, artifacts_dir)) as (ingest,):
        doc = ing.facts(certname="nobroker.example.com", when=T0)
        q = {"command": "replace_facts", "version": 5, "certname": doc["certname"]}
        resp = requests.post(
            ingest.url + "/pdb/cmd/v1",
            params=q,
            data=json.dumps(doc),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert resp.status_code == 200, resp.text
    assert Command.objects.get(uuid=resp.json()["uuid"]).state == "pending"
    # Once a worker and the broker are back, the beat job picks it up.
    env = service_env(tmp_path)
    with running(start_worker(env, artifacts_dir)):
        inbox.requeue_stuck(older_than=0)  # (a leftover task of an earlier test may drain it first)
        _wait(lambda: _pending() == 0, what="the command")
    assert Factset.objects.filter(node__certname="nobroker.example.com").exists()
