"""Core models, the day partitions of reports, and the Django admin."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory.models import Catalog, EdgeSet, Environment, Node, Producer, ResourceSet
from reports import partitions
from reports.models import Report, ResourceEvent


@pytest.mark.django_db
def test_node_lifecycle_and_active_queryset():
    production = Environment.objects.create(name="production")
    active = Node.objects.create(certname="a.example", report_environment=production, latest_report_status="failed")
    Node.objects.create(certname="b.example", deactivated=timezone.now())
    Node.objects.create(certname="c.example", expired=timezone.now())
    assert list(Node.objects.active()) == [active]
    assert sorted(n.certname for n in Node.objects.inactive()) == ["b.example", "c.example"]
    assert active.is_active
    with pytest.raises(IntegrityError), transaction.atomic():
        Node.objects.create(certname="a.example")


@pytest.mark.django_db
def test_one_current_catalog_per_node():
    env = Environment.objects.create(name="production")
    node = Node.objects.create(certname="a.example")
    rset = ResourceSet.objects.create(hash=b"\x01" * 20, resource_ids=[], size=0)
    eset = EdgeSet.objects.create(hash=b"\x02" * 20, edges=[], size=0)
    now = timezone.now()
    fields = dict(node=node, hash="h", version="1", environment=env, producer_timestamp=now)
    fields.update(first_producer_timestamp=now, received=now, resource_set=rset, edge_set=eset, valid_from=now)
    Catalog.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Catalog.objects.create(**fields)


@pytest.mark.django_db
def test_reports_are_stored_in_day_partitions():
    partitions.forget_cache()
    env = Environment.objects.create(name="production")
    producer = Producer.objects.create(name="puppet.example")
    node = Node.objects.create(certname="a.example")
    day = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    partitions.ensure_for(day)
    partitions.ensure_for(day)  # idempotent
    report = Report.objects.create(
        hash="0" * 40,
        node=node,
        certname=node.certname,
        environment=env,
        producer=producer,
        report_format=12,
        start_time=day,
        end_time=day,
        producer_timestamp=day,
        receive_time=day,
        status="changed",
    )
    ResourceEvent.objects.create(
        report=report,
        report_timestamp=day,
        node=node,
        certname=node.certname,
        environment=env,
        status="success",
        timestamp=day,
        resource_type="File",
        resource_title="/tmp/x",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reports_report_p20260301")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT count(*) FROM reports_resourceevent_p20260301")
        assert cursor.fetchone()[0] == 1
    assert dt.date(2026, 3, 1) in partitions.existing_days()
    assert partitions.drop_days_before(dt.date(2026, 3, 2)) == [dt.date(2026, 3, 1)]
    assert not Report.objects.exists()
    assert not ResourceEvent.objects.exists()


@pytest.mark.django_db
def test_admin_pages(admin_client):
    Node.objects.create(certname="a.example", latest_report_status="changed")
    for path in ["/admin/", "/admin/inventory/node/", "/admin/inventory/environment/", "/admin/ingest/command/"]:
        assert admin_client.get(path).status_code == 200, path
    assert b"a.example" in admin_client.get("/admin/inventory/node/").content
