"""Event history: every signal becomes one row, in the ingest transaction, in commit order."""

import threading

import pytest
from django.db import connection, transaction

from reports.orchestration import events
from reports.orchestration.models import Event
from tests.hooks.factory import deactivate, dead_command, store_report


@pytest.mark.django_db
def test_signals_become_events_in_order():
    store_report("a.example", status="unchanged", code_id="c1")
    store_report("a.example", status="failed", code_id="c2", failures=[("File", "/etc/x", "No such file")])
    deactivate("a.example")
    dead_command("b.example", error="cannot parse report")
    rows = list(Event.objects.order_by("id"))
    assert [(e.kind, e.certname, e.status) for e in rows] == [
        ("report_stored", "a.example", "unchanged"),
        ("node_status_changed", "a.example", "unchanged"),
        ("report_stored", "a.example", "failed"),
        ("node_status_changed", "a.example", "failed"),
        ("node_deactivated", "a.example", "deactivated"),
        ("command_dead", "b.example", ""),
    ]
    stored = rows[2].data
    assert stored["code_id"] == "c2" and stored["environment"] == "production"
    assert stored["previous_status"] == "unchanged" and stored["counts"]["resources_failed"] == 1
    assert rows[3].data["previous_status"] == "unchanged" and rows[3].data["status"] == "failed"
    assert rows[5].data["error"] == "cannot parse report"


@pytest.mark.django_db
def test_noop_with_pending_changes_is_its_own_status():
    store_report("n.example", status="unchanged", noop=True, noop_pending=True)
    assert Event.objects.filter(kind="report_stored").get().status == "noop"
    assert events.run_status("unchanged", True, False) == "unchanged"
    assert events.run_status("failed", True, True) == "failed"


@pytest.mark.django_db
def test_event_rolls_back_with_the_data():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        store_report("r.example")
        assert Event.objects.filter(certname="r.example").exists()
        raise Boom
    assert not Event.objects.filter(certname="r.example").exists()


@pytest.mark.django_db
def test_prune_keeps_the_newest_rows():
    for i in range(6):
        store_report(f"p{i}.example", status="changed")
    ids = list(Event.objects.order_by("id").values_list("id", flat=True))
    deleted = events.prune(max_rows=3, max_age_hours=24)
    assert deleted == len(ids) - 3
    assert list(Event.objects.order_by("id").values_list("id", flat=True)) == ids[-3:]


@pytest.mark.django_db(transaction=True)
def test_stream_position_follows_commit_order_not_insert_order():
    """A transaction that inserts its event first but commits last gets the later position, so
    a reader that has seen position N never later sees a smaller one appear."""
    inserted, release = threading.Event(), threading.Event()

    def slow_transaction():
        try:
            with transaction.atomic():
                events.record("command_dead", certname="first-in.example", data={})
                inserted.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert inserted.wait(30)
    with transaction.atomic():
        events.record("command_dead", certname="second-in.example", data={})
    assert list(Event.objects.values_list("certname", flat=True)) == ["second-in.example"]
    assert Event.objects.get().seq is not None
    release.set()
    thread.join(30)
    by_position = list(Event.objects.order_by("seq").values_list("certname", "id"))
    assert [name for name, _ in by_position] == ["second-in.example", "first-in.example"]
    assert by_position[0][1] > by_position[1][1]  # while the row ids follow insert order


@pytest.mark.django_db
def test_node_expired_by_retention_becomes_an_event():
    import datetime as dt

    from django.utils import timezone

    from inventory import retention
    from inventory.models import Node

    store_report("old.example", status="unchanged", producer_timestamp=timezone.now() - dt.timedelta(days=30))
    Node.objects.filter(certname="old.example").update(
        created=timezone.now() - dt.timedelta(days=30), report_timestamp=timezone.now() - dt.timedelta(days=30)
    )
    retention.expire_nodes(dt.timedelta(days=7))
    expired = Event.objects.get(kind="node_deactivated")
    assert expired.certname == "old.example" and expired.status == "expired"
    assert expired.data["reason"] == "expired" and expired.data["expired"] is not None
