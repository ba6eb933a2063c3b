"""Webhooks in-process: API (admin only, secret shown once, validation), filters, signatures,
one attempt at a time against a local receiver, backoff, and disabling after failures."""

import hashlib
import hmac

import orjson
import pytest
from django.test import override_settings

from reports.orchestration import webhooks
from reports.orchestration.models import DeliveryState, Event, Webhook, WebhookDelivery
from tests.hooks.factory import store_report
from tests.hooks.helpers import auth, token
from tests.hooks.receiver import Receiver

WEB = override_settings(ROOT_URLCONF="config.urls.web")


def test_signature_is_hmac_sha256_of_the_body():
    body = b'{"event": 1}'
    expected = "sha256=" + hmac.new(b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()
    assert webhooks.sign("s3cret-s3cret-s3cret", body) == expected
    assert webhooks.verify("s3cret-s3cret-s3cret", body, expected)
    assert not webhooks.verify("s3cret-s3cret-s3cret", body + b" ", expected)
    assert not webhooks.verify("other-secret-other", body, expected)
    assert not webhooks.verify("s3cret-s3cret-s3cret", body, None)


@override_settings(WEBHOOK_RETRY_BASE_SECONDS=10, WEBHOOK_RETRY_MAX_SECONDS=60)
def test_backoff_doubles_up_to_the_cap():
    assert [webhooks.backoff(n, jitter=False) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    assert 8 <= webhooks.backoff(1) <= 10


@WEB
@pytest.mark.django_db
def test_webhook_api_admin_only_secret_once_and_validation(client):
    admin = auth(token(("admin",), username="ops"))
    reader = auth(token(("read",), username="viewer"))
    body = {"name": "chatops", "url": "http://127.0.0.1:9/hook", "kinds": ["report_stored"], "statuses": ["failed"]}
    assert client.post("/api/v1/webhooks", body, content_type="application/json", **reader).status_code == 403
    assert client.get("/api/v1/webhooks", **reader).status_code == 403
    created = client.post("/api/v1/webhooks", body, content_type="application/json", **admin)
    assert created.status_code == 201, created.content
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
    listed = client.get("/api/v1/webhooks", **admin).json()
    assert listed[0]["name"] == "chatops" and "secret" not in listed[0]
    for bad, field in [
        ({**body, "url": "ftp://127.0.0.1/x"}, "url"),
        ({**body, "kinds": ["report_eaten"]}, "kinds"),
        ({**body, "statuses": ["purple"]}, "statuses"),
        ({**body, "secret": "short"}, "secret"),
        ({"url": "http://127.0.0.1:9/"}, "name"),
        ({**body, "node_query": ["no-such-operator", "certname", "x"]}, "node_query"),
    ]:
        response = client.post("/api/v1/webhooks", bad, content_type="application/json", **admin)
        assert response.status_code == 400 and field in response.json(), (field, response.content)
    assert Webhook.objects.count() == 1
    rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", **admin).json()
    assert rotated["secret"] != hook["secret"]
    off = client.patch(f"/api/v1/webhooks/{hook['id']}", {"enabled": False}, content_type="application/json", **admin)
    assert off.json()["enabled"] is False and off.json()["disabled_reason"] == "disabled by ops"
    on = client.patch(f"/api/v1/webhooks/{hook['id']}", {"enabled": True}, content_type="application/json", **admin)
    assert on.json()["enabled"] is True and on.json()["disabled_reason"] == ""
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", **admin).status_code == 204


@pytest.mark.django_db
def test_deliveries_follow_the_hook_filters():
    every = Webhook.objects.create(name="all", url="http://127.0.0.1:9/", secret="x" * 20)
    failures = Webhook.objects.create(
        name="failures",
        url="http://127.0.0.1:9/",
        secret="y" * 20,
        kinds=["report_stored"],
        statuses=["failed"],
        environments=["production"],
    )
    Webhook.objects.create(name="off", url="http://127.0.0.1:9/", secret="z" * 20, enabled=False)
    by_query = Webhook.objects.create(
        name="query",
        url="http://127.0.0.1:9/",
        secret="q" * 20,
        kinds=["report_stored"],
        node_query=["=", "certname", "b.example"],
    )
    store_report("a.example", status="unchanged")  # report_stored + node_status_changed
    store_report("b.example", status="failed", environment="staging")
    store_report("c.example", status="failed")
    assert WebhookDelivery.objects.filter(webhook=every).count() == 6
    mine = WebhookDelivery.objects.filter(webhook=failures)
    assert [Event.objects.get(pk=d.event_id).certname for d in mine] == ["c.example"]
    assert mine[0].kind == "report_stored" and mine[0].state == DeliveryState.PENDING
    queried = WebhookDelivery.objects.filter(webhook=by_query)
    assert [Event.objects.get(pk=d.event_id).certname for d in queried] == ["b.example"]


@pytest.mark.django_db(transaction=True)
@override_settings(WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_DISABLE_AFTER_FAILURES=5, WEBHOOK_RETRY_BASE_SECONDS=0.01)
def test_attempts_record_each_try_and_stop_after_max_attempts():
    with Receiver([500, 502, 500, 500]) as receiver:
        hook = Webhook.objects.create(name="r", url=receiver.url, secret="s" * 24)
        delivery = webhooks.ping(hook)
        assert webhooks.attempt(delivery.pk) is not None  # 500: retry
        delivery.refresh_from_db()
        assert delivery.state == DeliveryState.PENDING and delivery.response_status == 500
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
        assert webhooks.attempt(delivery.pk) is not None  # 502: retry
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
        assert webhooks.attempt(delivery.pk) is None  # third and last
        delivery.refresh_from_db()
        assert delivery.state == DeliveryState.FAILED and delivery.attempts == 3
        assert [a.response_status for a in delivery.attempt_log.all()] == [500, 502, 500]
        assert all(a.error.startswith("HTTP 5") and a.response_ms >= 0 for a in delivery.attempt_log.all())
        hook.refresh_from_db()
        assert hook.enabled and hook.consecutive_failures == 3
        assert webhooks.attempt(delivery.pk) is None and len(receiver.requests) == 3  # nothing more to send
    sent = receiver.requests[0]
    assert webhooks.verify(hook.secret, sent["body"], sent["headers"]["X-Stagehand-Signature-256"])
    assert sent["headers"]["X-Stagehand-Event"] == "ping"
    body = orjson.loads(sent["body"])
    assert body["webhook"] == {"id": hook.pk, "name": "r"} and body["delivery"] == str(delivery.uuid)
    assert body["event"]["kind"] == "ping"


@pytest.mark.django_db(transaction=True)
@override_settings(WEBHOOK_MAX_ATTEMPTS=10, WEBHOOK_DISABLE_AFTER_FAILURES=2)
def test_unreachable_receiver_disables_the_hook_and_cancels_its_queue():
    hook = Webhook.objects.create(name="gone", url="http://127.0.0.1:9/nothing-listens", secret="s" * 24)
    first, second = webhooks.ping(hook), webhooks.ping(hook)
    webhooks.attempt(first.pk)
    first.refresh_from_db()
    assert first.response_status is None and "Connection refused" in first.error
    WebhookDelivery.objects.filter(pk=first.pk).update(next_attempt_at=None)
    assert webhooks.attempt(first.pk) is None
    hook.refresh_from_db()
    assert not hook.enabled and "after 2 consecutive failed delivery attempts" in hook.disabled_reason
    second.refresh_from_db()
    assert second.state == DeliveryState.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_a_hook_deleted_by_another_process_never_breaks_ingest():
    from django.db import connection

    from reports.models import Report

    hook = Webhook.objects.create(name="soon gone", url="http://127.0.0.1:9/", secret="s" * 20)
    store_report("one.example", status="changed")  # warms this process's cache of enabled hooks
    assert WebhookDelivery.objects.filter(webhook=hook).exists()
    with connection.cursor() as cursor:  # deleted elsewhere: no signal clears our cache
        cursor.execute("DELETE FROM reports_webhookdelivery; DELETE FROM reports_webhook")
    assert webhooks.enabled_hooks.get() == [hook]  # still cached here
    report = store_report("two.example", status="failed")
    assert Report.objects.filter(pk=report.pk).exists()
    assert Event.objects.filter(certname="two.example").count() == 2
    assert not WebhookDelivery.objects.exists()


@WEB
@pytest.mark.django_db
def test_ping_and_redeliver_need_an_enabled_hook(client):
    admin = auth(token(("admin",), username="ops"))
    hook = Webhook.objects.create(name="p", url="http://127.0.0.1:9/", secret="s" * 20)
    pinged = client.post(f"/api/v1/webhooks/{hook.pk}/ping", **admin)
    assert pinged.status_code == 202 and pinged.json()["kind"] == "ping"
    uuid = pinged.json()["uuid"]
    again = client.post(f"/api/v1/webhooks/{hook.pk}/deliveries/{uuid}/redeliver", **admin)
    assert again.status_code == 202 and again.json()["uuid"] != uuid
    store_report("e.example")  # its deliveries get their body at the first attempt
    unsent = WebhookDelivery.objects.filter(webhook=hook, kind="report_stored").first()
    response = client.post(f"/api/v1/webhooks/{hook.pk}/deliveries/{unsent.uuid}/redeliver", **admin)
    assert response.status_code == 409 and "not been attempted" in response.json()["error"]
    webhooks.disable(hook, "maintenance")
    assert client.post(f"/api/v1/webhooks/{hook.pk}/ping", **admin).status_code == 409
    assert not WebhookDelivery.objects.filter(webhook=hook, state=DeliveryState.PENDING).exists()
