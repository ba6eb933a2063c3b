"""Webhooks delivered by a real Celery worker to a local receiver that fails, then succeeds (or
keeps failing until the hook is disabled); the receiver verifies every signature."""

from __future__ import annotations

import time

import orjson
import pytest
from django.test import override_settings

from reports.orchestration import webhooks
from reports.orchestration.models import DeliveryState, Webhook, WebhookDelivery
from tests.hooks.factory import store_report
from tests.hooks.helpers import auth, token
from tests.hooks.receiver import Receiver
from tests.support.stack import running, service_env, start_worker

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]
WEB = override_settings(ROOT_URLCONF="config.urls.web")


@pytest.fixture
def worker(tmp_path, artifacts_dir):
    env = service_env(
        tmp_path,
        WEBHOOK_RETRY_BASE_SECONDS="0.2",
        WEBHOOK_MAX_ATTEMPTS="5",
        WEBHOOK_DISABLE_AFTER_FAILURES="3",
        WEBHOOK_TIMEOUT_SECONDS="5",
    )
    process = start_worker(env, artifacts_dir, queues="default")
    with running(process):
        yield process


def settle(delivery_filter, timeout=60.0) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.filter(**delivery_filter).order_by("id").first()
        if delivery and delivery.state not in (DeliveryState.PENDING, DeliveryState.SENDING):
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"delivery {delivery_filter} not finished: {delivery and delivery.state}")


@WEB
def test_retries_until_the_receiver_succeeds(worker, client):
    admin = auth(token(("admin",), username="ops"))
    with Receiver([500, 503], then=200) as receiver:
        created = client.post(
            "/api/v1/webhooks",
            {"name": "ci", "url": receiver.url, "kinds": ["report_stored"], "statuses": ["failed"]},
            content_type="application/json",
            **admin,
        ).json()
        store_report("ok.example", status="changed")  # filtered out
        store_report("web.example", status="failed", code_id="v9")
        delivery = settle({"webhook_id": created["id"]})
    assert delivery.state == DeliveryState.SUCCEEDED and delivery.attempts == 3
    assert len(receiver.requests) == 3
    for number, request in enumerate(receiver.requests, start=1):
        headers = request["headers"]
        assert webhooks.verify(created["secret"], request["body"], headers["X-Stagehand-Signature-256"])
        assert headers["X-Stagehand-Delivery"] == str(delivery.uuid)
        assert headers["X-Stagehand-Attempt"] == str(number)
        assert headers["X-Stagehand-Event"] == "report_stored"
    assert len({r["body"] for r in receiver.requests}) == 1
    event = orjson.loads(receiver.requests[0]["body"])["event"]
    assert event["certname"] == "web.example" and event["data"]["code_id"] == "v9"
    # The API shows the delivery and each attempt.
    listed = client.get(f"/api/v1/webhooks/{created['id']}/deliveries", **admin).json()
    assert [d["state"] for d in listed["deliveries"]] == ["succeeded"]
    assert listed["webhook"]["consecutive_failures"] == 0
    detail = client.get(f"/api/v1/webhooks/{created['id']}/deliveries/{delivery.uuid}", **admin).json()
    assert [(a["response_status"], a["succeeded"]) for a in detail["attempt_log"]] == [
        (500, False),
        (503, False),
        (200, True),
    ]
    assert all(a["response_ms"] >= 0 for a in detail["attempt_log"])


@WEB
def test_a_failing_receiver_gets_the_hook_disabled_with_a_reason(worker, client):
    admin = auth(token(("admin",), username="ops"))
    with Receiver([], then=500) as receiver:
        created = client.post(
            "/api/v1/webhooks", {"name": "broken", "url": receiver.url}, content_type="application/json", **admin
        ).json()
        client.post(f"/api/v1/webhooks/{created['id']}/ping", **admin)
        delivery = settle({"webhook_id": created["id"]})
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 3
    assert "webhook disabled" in delivery.error
    hook = client.get(f"/api/v1/webhooks/{created['id']}", **admin).json()
    assert hook["enabled"] is False and hook["consecutive_failures"] == 3
    assert "after 3 consecutive failed delivery attempts" in hook["disabled_reason"]
    assert "HTTP 500" in hook["disabled_reason"]
    store_report("later.example", status="failed")
    assert not WebhookDelivery.objects.filter(webhook_id=created["id"]).exclude(pk=delivery.pk).exists()
    assert Webhook.objects.get(pk=created["id"]).disabled_at is not None
