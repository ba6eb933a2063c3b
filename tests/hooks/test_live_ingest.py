"""The long-poll driven by real ingest: reports POSTed to /pdb/cmd/v1 of a live web process,
stored by a running Celery worker (which sends the signals), answer a pending wait as soon as
the last selected node has reported; the webhooks and the stream see the same events."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import requests
from django.utils import timezone

from inventory.models import Node
from reports.orchestration import webhooks
from reports.orchestration.models import Event, Webhook, WebhookDelivery
from tests.hooks.helpers import token
from tests.hooks.receiver import Receiver
from tests.hooks.test_live_runs import listener_connected, until
from tests.support import ingest as ing
from tests.support.stack import running, service_env, start_service, start_worker

pytestmark = [
    pytest.mark.stack,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_storage_caches"),
]


def post_report(web, certname: str, *, when: dt.datetime, code_id: str, fixture: str, status: str | None = None):
    doc = ing.report(fixture, certname=certname, when=when)
    doc["code_id"] = code_id
    doc["transaction_uuid"] = f"{certname}-{when.timestamp()}"
    if status:
        doc["status"] = status
    response = requests.post(
        web.url + "/pdb/cmd/v1",
        params={"command": "store_report", "version": "8", "certname": certname},
        data=json.dumps(doc),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def reported(certname: str, code_id: str) -> bool:
    return Node.objects.filter(certname=certname, latest_report_code_id=code_id).exists()


def test_long_poll_answers_when_the_last_node_reports_through_real_ingest(tmp_path, artifacts_dir):
    env = service_env(tmp_path, RUNS_WAIT_MAX_TIMEOUT="120")
    receiver = Receiver([500], then=200)  # the first delivery attempt fails, is retried
    hook = Webhook.objects.create(
        name="pipeline", url=receiver.url, secret="s3cret-for-the-test", kinds=["report_stored"], statuses=["failed"]
    )
    env["WEBHOOK_RETRY_BASE_SECONDS"] = "0.2"
    with (
        running(start_service("web", env, artifacts_dir), start_worker(env, artifacts_dir)) as (web, _worker),
        receiver,
    ):
        old = timezone.now() - dt.timedelta(hours=1)
        names = ["app1.example", "app2.example", "app3.example"]
        for name in names:
            post_report(web, name, when=old, code_id="old-code", fixture="report-v8-unchanged.json")
        until(lambda: all(reported(n, "old-code") for n in names), timeout=120, what="the first reports")

        raw = token(("read",))
        since = timezone.now()
        answer = {}

        def waiter():
            answer["response"] = requests.post(
                web.url + "/api/v1/runs/wait",
                json={"certnames": names, "reported_after": since.isoformat(), "code_id": "new-code", "timeout": 100},
                headers={"Authorization": f"Bearer {raw}"},
                timeout=150,
            )

        thread = threading.Thread(target=waiter)
        thread.start()
        until(listener_connected, what="the wait to start listening")
        now = timezone.now()
        post_report(web, "app1.example", when=now, code_id="new-code", fixture="report-v8-unchanged.json")
        post_report(web, "app2.example", when=now, code_id="new-code", fixture="report-v8-changed-with-events.json")
        until(
            lambda: reported("app1.example", "new-code") and reported("app2.example", "new-code"),
            timeout=120,
            what="two of the three new reports",
        )
        assert thread.is_alive(), "the wait answered before the last node reported"
        post_report(
            web,
            "app3.example",
            when=timezone.now(),
            code_id="new-code",
            fixture="report-v8-unchanged.json",
            status="failed",
        )
        thread.join(120)
        assert not thread.is_alive()
        result = answer["response"].json()
        assert result["complete"] is True and result["timed_out"] is False, result
        assert {d["certname"]: d["status"] for d in result["done"]} == {
            "app1.example": "unchanged",
            "app2.example": "changed",
            "app3.example": "failed",
        }
        assert result["outcome"] == "failed"
        assert all(d["code_id"] == "new-code" for d in result["done"])
        # The worker's storing transactions recorded the events, in commit order.
        stored = list(Event.objects.filter(kind="report_stored").order_by("seq").values_list("certname", "code_id"))
        assert stored[-3:] == [("app1.example", "new-code"), ("app2.example", "new-code"), ("app3.example", "new-code")]
        changes = Event.objects.filter(kind="node_status_changed", certname="app3.example").order_by("seq")
        assert [(e.data["previous_status"], e.status) for e in changes] == [
            (None, "unchanged"),
            ("unchanged", "failed"),
        ]
        # The webhook for failed runs got app3's report from the worker, signed, after one retry.
        until(
            lambda: WebhookDelivery.objects.filter(webhook=hook, state="succeeded").exists(),
            timeout=60,
            what="the webhook delivery",
        )
        delivery = WebhookDelivery.objects.get(webhook=hook)
        assert delivery.attempts == 2 and len(receiver.requests) == 2
        body = receiver.requests[-1]["body"]
        assert webhooks.verify(hook.secret, body, receiver.requests[-1]["headers"]["X-Stagehand-Signature-256"])
        assert json.loads(body)["event"]["certname"] == "app3.example"
