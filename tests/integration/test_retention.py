"""Node expiry and purge, catalog history GC, report partition retention, and the PuppetDB admin
``clean``/``delete`` commands — against real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from api.models import ApiToken
from config.env import parse_duration
from inventory import retention
from inventory.models import Catalog, EdgeSet, Factset, Node, Resource, ResourceSet
from inventory.signals import node_deactivated
from reports import partitions
from reports.models import Report, ResourceEvent
from tests.support import ops_factories as f
from tests.support.stack import database_url

DAY = dt.timedelta(days=1)


def test_parse_duration():
    assert parse_duration("7d") == 7 * DAY
    assert parse_duration("12h") == dt.timedelta(hours=12)
    assert parse_duration("30m") == dt.timedelta(minutes=30)
    assert parse_duration("2w") == 14 * DAY
    assert parse_duration("14") == 14 * DAY
    assert not parse_duration("0")
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("7 days")


@pytest.mark.django_db
def test_expire_nodes_marks_only_stale_expirable_active_nodes():
    stale = f.node("stale.example", age=10 * DAY)
    fresh = f.node("fresh.example", age=DAY)
    pinned = f.node("pinned.example", age=10 * DAY, expires_facts=False)
    gone = f.node("gone.example", age=10 * DAY, deactivated=timezone.now() - 9 * DAY)
    # A recent report keeps a node with old facts alive.
    reporting = f.node("reporting.example", age=10 * DAY, report_timestamp=timezone.now() - DAY)
    seen = []
    receiver = lambda sender, node, reason, **kw: seen.append((node.certname, reason))  # noqa: E731
    node_deactivated.connect(receiver)
    try:
        result = retention.expire_nodes(7 * DAY, batch_size=1)
    finally:
        node_deactivated.disconnect(receiver)
    assert result.count == 1
    assert seen == [("stale.example", "expired")]
    states = {n.certname: n.expired for n in Node.objects.all()}
    assert states[stale.certname] is not None
    assert states[fresh.certname] is None
    assert states[pinned.certname] is None
    assert states[gone.certname] is None
    assert states[reporting.certname] is None
    assert retention.expire_nodes(dt.timedelta(0)).count == 0  # disabled


@pytest.mark.django_db
def test_purge_nodes_deletes_node_with_all_its_data_in_batches():
    now = timezone.now()
    old = [f.node(f"old{i}.example", deactivated=now - 20 * DAY) for i in range(3)]
    expired = f.node("expired.example", expired=now - 15 * DAY)
    recent = f.node("recent.example", deactivated=now - DAY)
    active = f.node("active.example")
    shared = f.resource("Package", "openssl")
    for n in [*old, expired, recent, active]:
        f.facts(n, {"os": {"family": "Debian"}})
        f.catalog(n, f.resource_set([shared]), valid_from=now - 30 * DAY)
        f.report(n, now - 2 * DAY, events=2)
    from inventory.models import CatalogInputs

    for n in [*old, active]:
        CatalogInputs.objects.create(node=n, producer_timestamp=now, received=now, inputs=[["hiera", "ntp::servers"]])
    result = retention.purge_nodes(14 * DAY, batch_size=2, limit=3)
    assert result.count == 3  # batch_limit honoured
    assert retention.purge_nodes(14 * DAY, batch_size=2).count == 1
    left = set(Node.objects.values_list("certname", flat=True))
    assert left == {"recent.example", "active.example"}
    ids = list(Node.objects.values_list("id", flat=True))
    assert set(Factset.objects.values_list("node_id", flat=True)) == set(ids)
    assert set(Catalog.objects.values_list("node_id", flat=True)) == set(ids)
    assert set(Report.objects.values_list("node_id", flat=True)) == set(ids)
    assert set(ResourceEvent.objects.values_list("node_id", flat=True)) == set(ids)
    assert ResourceEvent.objects.count() == 4
    assert list(CatalogInputs.objects.values_list("node_id", flat=True)) == [active.id]


@pytest.mark.django_db
def test_gc_catalog_history_keeps_current_and_recent_versions_and_collects_unreferenced():
    now = timezone.now()
    n = f.node("web1.example")
    other = f.node("web2.example")
    shared = f.resource("Package", "openssl")
    only_old = f.resource("File", "/etc/old.conf", {"content": "old"})
    only_recent = f.resource("File", "/etc/recent.conf", {"content": "recent"})
    current_res = f.resource("File", "/etc/current.conf", {"content": "now"})
    old_set = f.resource_set([shared, only_old])
    old_edges = f.edge_set([["Class", "Main", "contains", "File", "/etc/old.conf"]])
    recent_set = f.resource_set([shared, only_recent])
    current_set = f.resource_set([shared, current_res])
    very_old = f.catalog(n, old_set, valid_from=now - 50 * DAY, valid_to=now - 40 * DAY, es=old_edges)
    recent = f.catalog(n, recent_set, valid_from=now - 40 * DAY, valid_to=now - 5 * DAY)
    current = f.catalog(n, current_set, valid_from=now - 5 * DAY)
    # The other node's current catalog still uses the old set: the set must survive.
    still_used = f.catalog(other, old_set, valid_from=now - 60 * DAY)
    result = retention.gc_catalog_history(30 * DAY, batch_size=1)
    assert result.details["catalogs"] == 1
    assert set(Catalog.objects.values_list("id", flat=True)) == {recent.id, current.id, still_used.id}
    assert Catalog.objects.filter(id=very_old.id).count() == 0
    assert ResourceSet.objects.filter(id=old_set.id).exists()
    assert result.details["edge_sets"] == 1 and not EdgeSet.objects.filter(id=old_edges.id).exists()

    # Once the other node's catalog is superseded long ago, the set and its unique resource go.
    Catalog.objects.filter(id=still_used.id).update(valid_to=now - 35 * DAY)
    result = retention.gc_catalog_history(30 * DAY, batch_size=1)
    assert result.details == {
        "catalogs": 1,
        "edge_sets": 0,
        "resource_sets": 1,
        "resources": 1,
        "resources_deferred": False,
    }
    assert not ResourceSet.objects.filter(id=old_set.id).exists()
    assert set(Resource.objects.values_list("title", flat=True)) == {
        "openssl",
        "/etc/recent.conf",
        "/etc/current.conf",
    }


@pytest.mark.django_db
def test_purge_reports_inside_a_transaction_drops_old_days_only():
    partitions.forget_cache()
    now = timezone.now()
    n = f.node("r.example")
    old = f.report(n, now - 20 * DAY, events=3)
    kept = f.report(n, now - DAY, events=1)
    result = retention.purge_reports(14 * DAY)
    assert str((now - 20 * DAY).date()) in result.details["days"]
    assert (now - 20 * DAY).date() not in partitions.existing_days()
    assert (now - DAY).date() in partitions.existing_days()
    assert list(Report.objects.values_list("id", flat=True)) == [kept.id]
    assert not ResourceEvent.objects.filter(report_id=old.id).exists()
    assert ResourceEvent.objects.filter(report_id=kept.id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_purge_reports_detaches_concurrently_and_leaves_a_busy_day_for_later():
    partitions.forget_cache()
    now = timezone.now()
    # Transactional tests elsewhere leave committed day partitions behind: start from none older
    # than the TTL, so the assertions below see only this test's days.
    partitions.drop_days_before((now - 14 * DAY).date())
    n = f.node("busy.example")
    busy_day = (now - 30 * DAY).date()
    free_day = (now - 20 * DAY).date()
    f.report(n, now - 30 * DAY, events=1)
    f.report(n, now - 20 * DAY, events=1)
    kept = f.report(n, now, events=1)
    # Another session holds a lock on the busy day's partition (a long transaction).
    with psycopg.connect(database_url()) as other:
        other.execute(f"LOCK TABLE {partitions.partition_name('reports_report', busy_day)} IN ACCESS EXCLUSIVE MODE")
        result = retention.purge_reports(14 * DAY, lock_timeout_ms=200)
        other.rollback()
    # (other tests may leave old partitions behind; only ours are asserted)
    assert str(busy_day) in result.skipped
    assert str(free_day) in result.details["days"] and str(busy_day) not in result.details["days"]
    assert busy_day in partitions.existing_days()
    assert free_day not in partitions.existing_days()
    # The next run gets it.
    result = retention.purge_reports(14 * DAY, lock_timeout_ms=200)
    assert str(busy_day) in result.details["days"] and result.skipped == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partitions.partition_name("reports_resourceevent", busy_day)])
        assert cursor.fetchone()[0] is None
    assert list(Report.objects.values_list("id", flat=True)) == [kept.id]
    # Ingest into a new day still works after the drops.
    f.report(n, now + DAY)
    assert Report.objects.count() == 2


@pytest.fixture
def admin_token(db):
    user = get_user_model().objects.create_user("ops-admin")
    return ApiToken.issue(user=user, name="ops", scopes=["admin"])[1]


@pytest.fixture
def read_token(db):
    user = get_user_model().objects.create_user("ops-reader")
    return ApiToken.issue(user=user, name="reader", scopes=["read", "write"])[1]


def post_cmd(client, body, token):
    return client.post("/pdb/admin/v1/cmd", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.django_db
def test_admin_clean_and_delete(client, admin_token):
    now = timezone.now()
    f.node("old.example", deactivated=now - 20 * DAY)
    f.node("stale.example", age=10 * DAY)
    keep = f.node("keep.example")
    f.report(keep, now - DAY)
    response = post_cmd(
        client, {"command": "clean", "version": 1, "payload": ["expire_nodes", "purge_nodes"]}, admin_token
    )
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True
    assert not Node.objects.filter(certname="old.example").exists()
    assert Node.objects.get(certname="stale.example").expired is not None
    response = post_cmd(
        client, {"command": "clean", "version": 1, "payload": [["purge_nodes", {"batch_limit": 10}]]}, admin_token
    )
    assert response.status_code == 200
    response = post_cmd(client, {"command": "clean", "version": 1, "payload": []}, admin_token)
    assert response.status_code == 200
    assert {r["operation"] for r in response.json()["results"]} == {
        "expire_nodes",
        "purge_nodes",
        "purge_reports",
        "gc_packages",
        "gc_catalog_history",
        "gc_fact_paths",
    }
    response = post_cmd(
        client, {"command": "delete", "version": 1, "payload": {"certname": "keep.example"}}, admin_token
    )
    assert response.status_code == 200
    assert response.json() == {"deleted": "keep.example"}
    assert not Node.objects.filter(certname="keep.example").exists()
    assert not Report.objects.filter(certname="keep.example").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"command": "vacuum", "version": 1, "payload": []}, "unknown command"),
        ({"command": "clean", "version": 2, "payload": []}, "unsupported version"),
        ({"command": "clean", "version": 1, "payload": ["purge_everything"]}, "unknown clean operation"),
        ({"command": "clean", "version": 1, "payload": [["purge_nodes", {"batch_limit": -1}]]}, "batch_limit"),
        ({"command": "clean", "version": 1, "payload": "all"}, "payload list"),
        ({"command": "delete", "version": 1, "payload": {}}, "certname"),
        ([1, 2], "JSON object"),
    ],
)
def test_admin_cmd_rejects_bad_input(client, admin_token, body, message):
    f.node("untouched.example", deactivated=timezone.now() - 20 * DAY)
    response = post_cmd(client, body, admin_token)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Node.objects.filter(certname="untouched.example").exists()


@pytest.mark.django_db(transaction=True)
def test_admin_clean_answers_409_while_another_clean_runs(client, admin_token):
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [retention.CLEAN_LOCK_KEY])
        response = post_cmd(client, {"command": "clean", "version": 1, "payload": []}, admin_token)
    assert response.status_code == 409
    assert "already running" in response.json()["error"]


@pytest.mark.django_db
def test_admin_cmd_needs_admin_scope(client, read_token):
    f.node("untouched.example", deactivated=timezone.now() - 20 * DAY)
    assert post_cmd(client, {"command": "clean", "version": 1, "payload": []}, read_token).status_code == 403
    assert client.post("/pdb/admin/v1/cmd", {}, content_type="application/json").status_code in (401, 403)
    assert Node.objects.filter(certname="untouched.example").exists()


@pytest.mark.django_db
def test_housekeeping_command_and_settings(capsys):
    f.node("old.example", deactivated=timezone.now() - 3 * DAY)
    call_command("housekeeping", "purge_nodes")
    assert Node.objects.filter(certname="old.example").exists()  # default NODE_PURGE_TTL 14d
    call_command("housekeeping", "purge_nodes", "--node-purge-ttl", "2d")
    assert not Node.objects.filter(certname="old.example").exists()
    assert '"operation":"purge_nodes","count":1' in capsys.readouterr().out
    with pytest.raises(CommandError, match="unknown operation"):
        call_command("housekeeping", "purge_everything")
    with pytest.raises(CommandError, match="not a duration"):
        call_command("housekeeping", "purge_nodes", "--node-purge-ttl", "soon")
    with override_settings(NODE_PURGE_TTL=dt.timedelta(0)):
        f.node("older.example", deactivated=timezone.now() - 300 * DAY)
        call_command("housekeeping", "purge_nodes")
        assert Node.objects.filter(certname="older.example").exists()  # 0 disables


def test_beat_schedule_has_housekeeping_tasks():
    from django.conf import settings

    from config.celery import app

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "stagehand.housekeeping.expire_nodes",
        "stagehand.housekeeping.purge_nodes",
        "stagehand.housekeeping.purge_reports",
        "stagehand.housekeeping.gc_catalog_history",
        "stagehand.housekeeping.gc_packages",
        "stagehand.housekeeping.gc_fact_paths",
    } <= tasks
    # Every operation of a full pass is scheduled (the settings name them without importing retention).
    assert {f"stagehand.housekeeping.{name}" for name in retention.OPERATIONS} <= tasks
    app.loader.import_default_modules()
    assert tasks <= set(app.tasks)
    assert app.amqp.router.route({}, "stagehand.housekeeping.purge_nodes")["queue"].name == "housekeeping"


@pytest.mark.django_db
def test_resource_gc_waits_for_catalog_stores_and_defers_when_busy():
    orphan = f.resource("File", "/etc/orphan", {})
    with psycopg.connect(database_url(), autocommit=True) as other:
        # An in-flight catalog store holds the guard in shared mode.
        other.execute("SELECT pg_advisory_lock_shared(%s)", [retention.RESOURCE_GC_LOCK_KEY])
        counts = retention.collect_unreferenced(lock_timeout_ms=100)
        assert counts["resources_deferred"] is True and counts["resources"] == 0
        assert Resource.objects.filter(id=orphan.id).exists()
        other.execute("SELECT pg_advisory_unlock_shared(%s)", [retention.RESOURCE_GC_LOCK_KEY])
    counts = retention.collect_unreferenced(lock_timeout_ms=100)
    assert counts["resources"] >= 1 and not Resource.objects.filter(id=orphan.id).exists()


@pytest.mark.django_db
def test_every_operation_runs_by_name_as_its_task():
    from inventory import tasks

    policy = retention.RetentionPolicy.from_settings()
    for name in retention.OPERATIONS:
        assert retention.run_operation(name, policy).operation == name
        assert getattr(tasks, name).run()["operation"] == name
    with pytest.raises(ValueError, match="unknown housekeeping operation"):
        retention.run_operation("vacuum", policy)
