"""Smaller guarantees: the timeout cap, a broken receiver never breaks ingest, stale deliveries
are re-queued, the long-request slots."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from reports.models import Report
from reports.orchestration import events, notify, runs, webhooks
from reports.orchestration.models import DeliveryState, Event, Webhook, WebhookDelivery
from reports.orchestration.selection import SelectionError
from tests.hooks.factory import store_report


@override_settings(RUNS_WAIT_MAX_TIMEOUT=5)
def test_timeout_is_capped_and_defaults_differ_for_get_and_post():
    body = {"certnames": ["a"], "code_id": "x"}
    assert runs.parse_request({**body, "timeout": 9999}, default_timeout=5).timeout == 5
    assert runs.parse_request(body, default_timeout=0).timeout == 0
    assert runs.parse_request({**body, "timeout": "2.5"}, default_timeout=0).timeout == 2.5
    with pytest.raises(SelectionError) as err:
        runs.parse_request([1, 2], default_timeout=0)
    assert err.value.field == "body"


@pytest.mark.django_db
def test_a_failing_event_receiver_does_not_break_the_ingest_transaction(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("event history unavailable")

    monkeypatch.setattr(events, "record", broken)
    report = store_report("x.example", status="failed")
    assert Report.objects.filter(pk=report.pk).exists()
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_stale_deliveries_are_requeued(monkeypatch):
    queued = []
    monkeypatch.setattr(webhooks, "enqueue", lambda ids, countdown=None: queued.extend(ids))
    hook = Webhook.objects.create(name="h", url="http://127.0.0.1:9/", secret="s" * 20)
    old = timezone.now() - dt.timedelta(minutes=30)
    lost = WebhookDelivery.objects.create(webhook=hook, kind="ping", body="{}", next_attempt_at=old)
    stuck = WebhookDelivery.objects.create(
        webhook=hook, kind="ping", body="{}", state=DeliveryState.SENDING, claimed_at=old, attempts=1
    )
    fresh = WebhookDelivery.objects.create(webhook=hook, kind="ping", body="{}", next_attempt_at=timezone.now())
    done = WebhookDelivery.objects.create(webhook=hook, kind="ping", body="{}", state=DeliveryState.SUCCEEDED)
    requeued = webhooks.requeue_stale()
    assert sorted(requeued) == sorted(queued) == sorted([lost.pk, stuck.pk])
    stuck.refresh_from_db()
    assert stuck.state == DeliveryState.PENDING and stuck.error == "worker lost during the attempt"
    assert fresh.pk not in requeued and done.pk not in requeued


@override_settings(HOOKS_MAX_LONG_REQUESTS=2)
def test_long_request_slots():
    slots = notify._Slots()
    assert slots.try_acquire() and slots.try_acquire()
    assert not slots.try_acquire()
    slots.release()
    assert slots.try_acquire()


def test_hub_wakes_only_for_interesting_certnames():
    hub = notify.Hub()
    seq = hub.seq
    hub._wake("1 report_stored other.example")
    assert hub.wait(seq, 0.05, interest={"mine.example"}) is None
    hub._wake("2 report_stored mine.example")
    assert hub.wait(seq, 0.05, interest={"mine.example"}) == hub.seq
    assert hub.wait(seq, 0.05) == hub.seq


def test_hub_names_what_changed_since_a_point():
    hub = notify.Hub(recent=4)
    seq = hub.seq
    hub._wake("1 report_stored a.example")
    hub._wake("2 node_status_changed a.example")
    hub._wake("3 report_stored b.example")
    assert hub.changed_since(seq) == {"a.example", "b.example"}
    assert hub.changed_since(hub.seq) == set()
    hub._wake(None)  # a listener reconnection: what changed is unknown
    assert hub.changed_since(seq + 3) is None
    for i in range(5):
        hub._wake(f"{i} report_stored c.example")
    assert hub.changed_since(seq) is None  # older than the window
