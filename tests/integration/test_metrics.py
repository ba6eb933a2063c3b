"""/metrics on every HTTP process and the worker, the inbox gauges, and the request id carried
from a request into the Celery task's log lines."""

from __future__ import annotations

import datetime as dt
import time

import orjson
import pytest
import requests
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config.observability import request_id_var
from ingest.models import Command, CommandState
from tests.support.stack import free_port, running, service_env, start_service, start_worker, wait_http


def samples(text: str) -> dict:
    """{(name, frozenset(labels)): value} of every sample in a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(parsed: dict, name: str, **labels) -> float:
    total = 0.0
    found = False
    for (sample_name, sample_labels), sample_value in parsed.items():
        if sample_name == name and set(labels.items()) <= sample_labels:
            total += sample_value
            found = True
    assert found, f"no sample {name} {labels}"
    return total


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return out


def command(certname: str, state: str, received_at: dt.datetime, kind: str = "replace_facts") -> Command:
    c = Command.objects.create(command=kind, version=5, certname=certname, payload=b"{}", state=state)
    Command.objects.filter(pk=c.pk).update(received_at=received_at)
    return c


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("service", "urls"), [("web", "config.urls.web"), ("ingest", "config.urls.ingest"), ("enc", "config.urls.enc")]
)
def test_metrics_endpoint_counts_requests_and_reads_the_inbox(client, service, urls):
    now = timezone.now()
    command("a.example", CommandState.PENDING, now - dt.timedelta(hours=2))
    command("b.example", CommandState.PENDING, now - dt.timedelta(minutes=1), kind="store_report")
    command("c.example", CommandState.DEAD, now - dt.timedelta(days=1))
    command("d.example", CommandState.DONE, now - dt.timedelta(days=3))
    with override_settings(ROOT_URLCONF=urls, SERVICE=service):
        before = samples(client.get("/metrics").content.decode())
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
        assert client.get("/no/such/route").status_code == 404
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    parsed = samples(response.content.decode())

    def delta(name, **labels):
        old = sum(v for (n, ls), v in before.items() if n == name and set(labels.items()) <= ls)
        return value(parsed, name, **labels) - old

    assert delta("stagehand_http_requests_total", route="/healthz", status="200", method="GET") == 3
    assert delta("stagehand_http_requests_total", route="unmatched", status="404") == 1
    assert delta("stagehand_http_request_duration_seconds_count", route="/healthz") == 3
    assert value(parsed, "stagehand_inbox_pending_commands", command="replace_facts") == 1
    assert value(parsed, "stagehand_inbox_pending_commands", command="store_report") == 1
    assert value(parsed, "stagehand_inbox_dead_commands", command="replace_facts") == 1
    # About two hours: the database clock inside the test transaction is its start time.
    assert value(parsed, "stagehand_inbox_oldest_pending_age_seconds") >= 7200 - 60
    assert value(parsed, "stagehand_inbox_scrape_ok") == 1


@pytest.mark.django_db(transaction=True)
def test_gunicorn_workers_share_their_counters(tmp_path):
    """Two gunicorn workers: /metrics adds up both processes' counters (multiprocess mode)."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"stale from an earlier run")
    env = service_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    with running(start_service("ingest", env, tmp_path / "logs", workers=2)) as (ingest,):
        first = samples(requests.get(ingest.url + "/metrics", headers={"Connection": "close"}, timeout=10).text)
        baseline = value(first, "stagehand_http_requests_total", route="/healthz", status="200")
        assert not (metrics_dir / "counter_99999.db").exists()  # emptied at start
        # Which worker accepts a connection is up to the kernel: send requests until both
        # workers have served some (each then has its own counter file), at most 400.
        sent = 0
        while sent < 40 or (len(list(metrics_dir.glob("counter_*.db"))) < 2 and sent < 400):
            response = requests.get(ingest.url + "/healthz", headers={"Connection": "close"}, timeout=10)
            assert response.status_code == 200
            sent += 1
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2  # one per gunicorn worker
        # Whichever worker answers the scrape, it reports the sum over both processes (without
        # multiprocess mode each would report only the requests it served itself).
        for _ in range(10):
            text = requests.get(ingest.url + "/metrics", headers={"Connection": "close"}, timeout=10).text
            parsed = samples(text)
            assert value(parsed, "stagehand_http_requests_total", route="/healthz", status="200") == baseline + sent
        assert value(parsed, "stagehand_inbox_scrape_ok") == 1


@pytest.mark.django_db(transaction=True)
def test_worker_metrics_server_and_request_id_reaches_the_task(tmp_path):
    from config.celery import ping
    from inventory.tasks import purge_nodes

    port = free_port()
    env = service_env(tmp_path, WORKER_METRICS_PORT=str(port), LOG_FORMAT="json")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with running(start_worker(env, tmp_path / "logs", concurrency=2)) as (worker,):
        wait_http(f"http://127.0.0.1:{port}/metrics", worker)
        for _ in range(2):
            assert purge_nodes.apply_async().get(timeout=30)["operation"] == "purge_nodes"
        parsed = samples(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
        assert value(parsed, "stagehand_retention_runs_total", operation="purge_nodes") == 2
        assert value(parsed, "stagehand_inbox_scrape_ok") == 1

        # A task published while handling a request logs that request's id.
        token = request_id_var.set("req-ops-0123456789")
        try:
            assert ping.apply_async(args=["traced"], queue="default").get(timeout=30) == "traced"
        finally:
            request_id_var.reset(token)
        # The task's log line is written after its result is stored: wait for it.
        deadline = time.monotonic() + 20
        while True:
            traced = [rec for rec in json_lines(worker.log()) if rec.get("task") == "stagehand.ping"]
            if any(rec.get("request_id") == "req-ops-0123456789" for rec in traced) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert any(rec.get("request_id") == "req-ops-0123456789" for rec in traced), traced
