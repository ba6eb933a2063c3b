"""Run-completion long-polls and the stagehand-wait CLI against a real gunicorn web process
(gthread workers), with reports stored and the ingest signals sent from the test process."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import requests
from django.utils import timezone

from reports.orchestration.notify import _conninfo
from tests.hooks.factory import store_report
from tests.hooks.helpers import token
from tests.support.stack import BASE_DIR, running, service_env, start_service

CLI = BASE_DIR / "reports" / "orchestration" / "client" / "stagehand-wait"

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web(tmp_path, artifacts_dir):
    env = service_env(tmp_path, HOOKS_MAX_LONG_REQUESTS="2", RUNS_WAIT_MAX_TIMEOUT="120")
    process = start_service("web", env, artifacts_dir)
    with running(process):
        yield process


def listener_connected() -> bool:
    """Whether a process other than this one has its LISTEN connection up (a wait has started)."""
    with psycopg.connect(**_conninfo()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'stagehand-hooks-listener %%' "
            "AND application_name <> %s AND datname = current_database()",
            [f"stagehand-hooks-listener {os.getpid()}"],
        ).fetchone()
    return row[0] > 0


def until(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_long_poll_returns_when_the_last_node_reports_and_serves_others_meanwhile(web):
    raw = token(("read",))
    headers = {"Authorization": f"Bearer {raw}"}
    before = timezone.now() - dt.timedelta(hours=1)
    for name in ("a", "b", "c"):
        store_report(f"{name}.example", status="unchanged", code_id="v1", producer_timestamp=before)
    started = timezone.now()
    answer = {}

    def waiter():
        answer["response"] = requests.post(
            web.url + "/api/v1/runs/wait",
            json={
                "certnames": ["a.example", "b.example", "c.example"],
                "reported_after": started.isoformat(),
                "code_id": "v2",
                "timeout": 90,
            },
            headers=headers,
            timeout=120,
        )

    thread = threading.Thread(target=waiter)
    thread.start()
    until(listener_connected, what="the wait to start listening")
    store_report("a.example", status="changed", code_id="v2")
    store_report("b.example", status="unchanged", code_id="v2")
    # While the wait is pending, the same single gunicorn worker serves other requests.
    assert requests.get(web.url + "/healthz", timeout=10).status_code == 200
    other = requests.get(web.url + "/api/v1/rollout", params={"environment": "production"}, headers=headers, timeout=10)
    assert other.status_code == 200 and other.json()["nodes"] == 3
    assert thread.is_alive(), "the wait answered before the last node reported"
    store_report("c.example", status="failed", code_id="v2", failures=[("Service", "nginx", "Could not start")])
    thread.join(60)
    assert not thread.is_alive()
    result = answer["response"].json()
    assert result["complete"] is True and result["timed_out"] is False
    assert result["outcome"] == "failed"
    assert {d["certname"]: d["status"] for d in result["done"]} == {
        "a.example": "changed",
        "b.example": "unchanged",
        "c.example": "failed",
    }
    assert result["done"][2]["failed_resources"][0]["message"] == "Could not start"


def test_long_poll_times_out_with_the_pending_nodes(web):
    raw = token(("read",))
    store_report("quiet.example", status="unchanged", producer_timestamp=timezone.now() - dt.timedelta(hours=2))
    store_report("done.example", status="changed")
    response = requests.post(
        web.url + "/api/v1/runs/wait",
        json={
            "certnames": ["quiet.example", "done.example"],
            "reported_after": (timezone.now() - dt.timedelta(minutes=5)).isoformat(),
            "timeout": 1.5,
        },
        headers={"Authorization": f"Bearer {raw}"},
        timeout=60,
    )
    result = response.json()
    assert response.status_code == 200
    assert result["timed_out"] is True and result["complete"] is False and result["outcome"] == "pending"
    assert result["waited_seconds"] >= 1.5  # it waited the whole timeout, not less
    assert [p["certname"] for p in result["pending"]] == ["quiet.example"]
    assert [d["certname"] for d in result["done"]] == ["done.example"]


def test_extra_long_polls_answer_at_once_instead_of_taking_every_thread(web):
    """HOOKS_MAX_LONG_REQUESTS=2: a third concurrent wait is answered immediately (Retry-After)."""
    raw = token(("read",))
    headers = {"Authorization": f"Bearer {raw}"}
    store_report("slow.example", status="unchanged", producer_timestamp=timezone.now() - dt.timedelta(hours=2))
    body = {"certnames": ["slow.example"], "reported_after": timezone.now().isoformat(), "timeout": 60}
    answers = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                requests.post(web.url + "/api/v1/runs/wait", json=body, headers=headers, timeout=120)
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    until(listener_connected, what="a wait to start")
    deadline = time.monotonic() + 30
    while True:
        third = requests.post(web.url + "/api/v1/runs/wait", json=body, headers=headers, timeout=120)
        if "degraded" in third.json() or time.monotonic() > deadline:
            break
        # Both slots may not be taken yet (the threads are still connecting): try again.
    assert third.status_code == 200 and third.headers.get("Retry-After") == "2"
    assert third.json()["outcome"] == "pending"
    store_report("slow.example", status="changed")
    for thread in threads:
        thread.join(60)
    assert [a.json()["outcome"] for a in answers] == ["succeeded", "succeeded"]


def run_cli(web, raw, *args, timeout=60, script=CLI):
    return subprocess.run(
        [sys.executable, str(script), "--url", web.url, "--token", raw, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_cli_exit_codes(web, tmp_path):
    raw = token(("read",))
    # Pipelines fetch the script with their token; this test runs the fetched copy.
    fetched = requests.get(
        web.url + "/api/v1/runs/client/stagehand-wait", headers={"Authorization": f"Bearer {raw}"}, timeout=10
    )
    assert fetched.status_code == 200 and fetched.content == CLI.read_bytes()
    script = tmp_path / "stagehand-wait"
    script.write_bytes(fetched.content)
    since = (timezone.now() - dt.timedelta(seconds=1)).isoformat()
    store_report("web1.example", status="changed", code_id="v7")
    store_report("web2.example", status="unchanged", code_id="v7", noop=True, noop_pending=True)
    ok = run_cli(
        web, raw, "--certname", "web1.example,web2.example", "--reported-after", since, "--code-id", "v7", script=script
    )
    assert ok.returncode == 0, ok.stderr
    assert "web1.example" in ok.stdout and "changed" in ok.stdout
    assert (
        "2 nodes: 2 succeeded (1 changed, 0 unchanged, 1 noop with pending changes), 0 failed, 0 pending" in ok.stdout
    )

    store_report(
        "db1.example", status="failed", code_id="v7", failures=[("Exec", "migrate", "returned 1 instead of 0")]
    )
    failed = run_cli(web, raw, "-n", "web1.example", "-n", "db1.example", "-a", since, "--code-id", "v7")
    assert failed.returncode == 1, failed.stderr
    assert "Exec[migrate]: returned 1 instead of 0" in failed.stdout
    assert "1 failed" in failed.stdout

    timed_out = run_cli(
        web, raw, "-n", "web1.example", "-n", "never.example", "-a", since, "--timeout", "1.5", "--poll", "1"
    )
    assert timed_out.returncode == 2, timed_out.stderr
    assert "never.example" in timed_out.stdout and "unknown node" in timed_out.stdout
    assert "1 pending (timed out)" in timed_out.stdout

    bad = run_cli(web, raw, "-n", "web1.example")  # no condition: the API says 400
    assert bad.returncode == 3 and "HTTP 400" in bad.stderr and "condition" in bad.stderr
    unauthorised = run_cli(web, "sth_wrong", "-n", "web1.example", "-a", since)
    assert unauthorised.returncode == 3 and "HTTP 401" in unauthorised.stderr
