"""Receivers + worker processing against real PostgreSQL: every command and version from real
payloads, checked in the database; coalescing, ordering, idempotency, history, dead/replay."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.core.management import call_command

from ingest import inbox, processing
from ingest.models import Command
from inventory.models import Catalog, FactPath, Factset, Node, Package, Resource, ResourceSet
from reports.models import Report, ResourceEvent
from tests.support import ingest as ing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_storage_caches")]

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def drain():
    return processing.process_batch(limit=1000)


def test_facts_v5_stored_field_by_field(client):
    doc = ing.load("facts-v5-with-package-inventory-pg1.vm.json")
    doc["producer_timestamp"] = ing.ts(T0)
    resp = ing.post(client, "replace facts", 5, doc, gzip_body=True)
    assert resp.status_code == 200, resp.content
    assert Command.objects.get(uuid=resp.json()["uuid"]).state == "pending"
    assert drain()["stored"] == 1
    node = Node.objects.get(certname=doc["certname"])
    fs = Factset.objects.get(node=node)
    assert fs.facts == doc["values"]
    assert fs.producer_timestamp == T0
    assert fs.environment.name == doc["environment"]
    assert fs.producer.name == doc["producer"]
    assert node.facts_producer_timestamp == T0 and node.facts_environment_id == fs.environment_id
    assert len(fs.package_ids) == len({tuple(p) for p in doc["package_inventory"]})
    assert set(Package.objects.filter(id__in=fs.package_ids).values_list("name", "version", "provider")) == {
        tuple(p) for p in doc["package_inventory"]
    }
    assert FactPath.objects.filter(name="os", path=["os", "family"], value_type="string").exists()
    assert Command.objects.get().state == "done"


def test_facts_v4_and_volatile_split(client):
    doc = ing.facts(when=T0)
    doc.pop("producer", None)
    assert ing.post(client, "replace_facts", 4, doc).status_code == 200
    drain()
    fs = Factset.objects.get()
    assert fs.volatile == {} and fs.producer is None
    # Two facts change: they move to volatile; the rest stays in stable.
    doc2 = copy.deepcopy(doc)
    doc2["producer_timestamp"] = ing.ts(T0 + dt.timedelta(minutes=30))
    doc2["values"]["uptime_seconds"] = 999999
    doc2["values"]["new_fact"] = "x"
    assert ing.post(client, "replace_facts", 5, doc2).status_code == 200
    drain()
    fs.refresh_from_db()
    assert set(fs.volatile) == {"uptime_seconds", "new_fact"}
    assert "uptime_seconds" not in fs.stable
    assert fs.facts == doc2["values"]
    stable_before = fs.stable
    # Only the volatile fact changes again: stable is kept as it is.
    doc3 = copy.deepcopy(doc2)
    doc3["producer_timestamp"] = ing.ts(T0 + dt.timedelta(minutes=60))
    doc3["values"]["uptime_seconds"] = 1000000
    ing.post(client, "replace_facts", 5, doc3)
    drain()
    fs.refresh_from_db()
    assert fs.stable == stable_before and fs.volatile["uptime_seconds"] == 1000000
    assert fs.facts == doc3["values"]


def test_catalog_versions_6_to_9_and_history(client):
    base = ing.load("catalog-tiny.json")
    for version, minute in ((6, 0), (7, 10), (8, 20), (9, 30)):
        doc = copy.deepcopy(base)
        doc["producer_timestamp"] = ing.ts(T0 + dt.timedelta(minutes=minute))
        doc["transaction_uuid"] = f"t{version}"
        if version < 8:
            doc.pop("catalog_uuid", None)
        if version == 9:
            doc["producer"] = "server1"
            doc["job_id"] = "job-1"
        resp = ing.post(client, "replace_catalog", version, doc)
        assert resp.status_code == 200, resp.content
        drain()
    node = Node.objects.get(certname=base["certname"])
    cats = list(Catalog.objects.filter(node=node).order_by("valid_from"))
    # Same resources and edges, same code_id (null): one version, confirmed four times.
    assert len(cats) == 1
    cat = cats[0]
    assert cat.compiles == 4 and cat.valid_to is None
    assert cat.transaction_uuid == "t9" and cat.job_id == "job-1" and cat.producer.name == "server1"
    assert cat.first_producer_timestamp == T0
    assert cat.producer_timestamp == T0 + dt.timedelta(minutes=30)
    rs = cat.resource_set
    assert rs.size == 2
    res = {(r.type, r.title): r for r in Resource.objects.filter(id__in=rs.resource_ids)}
    pin = res[("Apt::Pin", "puppetlabs")]
    assert pin.parameters["origin"] == "apt.puppetlabs.com" and pin.line == 74 and not pin.exported
    assert pin.tags == sorted(set(base["resources"][1]["tags"]))
    assert cat.edge_set.edges == [
        ["Apt::Pin", "puppetlabs", "contains", "File", "/etc/apt/preferences.d/puppetlabs.pref"]
    ]
    assert node.latest_catalog_id == cat.id and node.catalog_producer_timestamp == cat.producer_timestamp


def test_three_catalogs_history_and_current_at_time_t(client):
    for i, extra in enumerate((0, 3, 5)):
        doc = ing.catalog(when=T0 + dt.timedelta(hours=i), extra=extra)
        ing.post(client, "replace_catalog", 9, doc)
        drain()
    node = Node.objects.get()
    cats = list(Catalog.objects.filter(node=node).order_by("valid_from"))
    assert [c.resource_set.size for c in cats] == [2, 5, 7]
    assert cats[0].valid_to == cats[1].valid_from == T0 + dt.timedelta(hours=1)
    assert cats[1].valid_to == cats[2].valid_from and cats[2].valid_to is None

    def current_at(t):
        return (
            Catalog.objects.filter(node=node, valid_from__lte=t)
            .exclude(valid_to__lte=t)
            .order_by("-valid_from")
            .first()
        )

    assert current_at(T0 + dt.timedelta(minutes=30)) == cats[0]
    assert current_at(T0 + dt.timedelta(minutes=90)) == cats[1]
    assert current_at(T0 + dt.timedelta(days=3)) == cats[2]
    # Resources are shared: the 2 base resources exist once.
    assert Resource.objects.count() == 7


def test_catalog_resources_shared_between_nodes(client):
    for name in ("a", "b", "c"):
        ing.post(client, "replace_catalog", 9, ing.catalog(certname=name, when=T0, extra=10))
    drain()
    assert Resource.objects.count() == 12
    assert ResourceSet.objects.count() == 1
    assert Catalog.objects.values("resource_set").distinct().count() == 1


def test_report_v8_with_events(client):
    doc = ing.report()
    resp = ing.post(client, "store report", 8, doc)
    assert resp.status_code == 200, resp.content
    assert drain()["stored"] == 1
    rep = Report.objects.get()
    assert rep.certname == doc["certname"] and rep.status == "changed"
    assert rep.transaction_uuid == doc["transaction_uuid"] and rep.catalog_uuid == doc["catalog_uuid"]
    assert rep.puppet_version == doc["puppet_version"] and rep.report_format == doc["report_format"]
    assert rep.noop == doc["noop"] and rep.noop_pending == doc["noop_pending"]
    assert rep.cached_catalog_status == doc["cached_catalog_status"]
    assert rep.configuration_version == doc["configuration_version"]
    assert len(rep.logs) == len(doc["logs"]) and len(rep.metrics) == len(doc["metrics"])
    expected_events = sum(len(r["events"]) for r in doc["resources"])
    assert ResourceEvent.objects.filter(report_id=rep.id).count() == expected_events == 41
    first = doc["resources"][0]
    ev = ResourceEvent.objects.filter(resource_title=first["resource_title"]).first()
    assert ev.resource_type == first["resource_type"] and ev.new_value == first["events"][0]["new_value"]
    assert ev.containment_path == first["containment_path"]
    assert ev.containing_class is None or ev.containing_class in first["containment_path"]
    changed = next(m["value"] for m in doc["metrics"] if m["category"] == "resources" and m["name"] == "changed")
    assert rep.resources_changed == changed
    node = Node.objects.get(certname=doc["certname"])
    assert node.latest_report_id == rep.id and node.latest_report_status == "changed"
    assert node.latest_report_hash == rep.hash and node.report_timestamp == rep.producer_timestamp
    assert node.latest_report_end_time == rep.end_time  # PuppetDB's nodes.report_timestamp
    # The same report again is skipped.
    ing.post(client, "store_report", 8, doc)
    assert drain()["duplicate"] == 1
    assert Report.objects.count() == 1


@pytest.mark.parametrize("version", [5, 6, 7])
def test_report_older_versions(client, version):
    doc = ing.report()
    if version < 8:
        for key in ("producer", "noop_pending", "corrective_change", "type", "job_id"):
            doc.pop(key, None)
    if version < 7:
        for key in ("catalog_uuid", "code_id", "cached_catalog_status"):
            doc.pop(key, None)
    if version == 5:
        flat = []
        for r in doc.pop("resources"):
            for e in r["events"]:
                flat.append(
                    {
                        **e,
                        "resource_type": r["resource_type"],
                        "resource_title": r["resource_title"],
                        "file": r["file"],
                        "line": r["line"],
                        "containment_path": r["containment_path"],
                    }
                )
        doc["resource_events"] = flat
    assert ing.post(client, "store_report", version, doc).status_code == 200
    drain()
    rep = Report.objects.get()
    assert ResourceEvent.objects.filter(report_id=rep.id).count() == 41
    if version < 7:
        assert rep.catalog_uuid is None


def test_report_upload_yaml_and_terminus_same_run_kept_once(client):
    body = (ing.FIXTURES / "ingest" / "report-format12-puppet-apply.yaml").read_bytes()
    resp = client.post("/reports/upload", data=body, content_type="application/x-yaml")
    assert resp.status_code == 200, resp.content
    drain()
    rep = Report.objects.get()
    assert rep.source == "http" and rep.certname == "vm" and rep.report_format == 12
    assert rep.status == "changed" and rep.transaction_uuid == "26282d6f-bd1e-460b-bbe5-92c7acf6572c"
    assert len(rep.resources) == 10
    assert ResourceEvent.objects.filter(report_id=rep.id).count() == 2
    # The terminus sends the same run with fewer resources: the richer http one is kept.
    from reports.parsing import parse_report_body

    wire = parse_report_body(body, "yaml")
    wire["resources"] = [r for r in wire["resources"] if r["events"]]
    wire["producer_timestamp"] = ing.ts(dt.datetime.now(dt.UTC))
    ing.post(client, "store_report", 8, wire)
    assert drain()["duplicate"] == 1
    assert Report.objects.get().id == rep.id


def test_deactivate_and_reactivate_and_expiration(client):
    ing.post(client, "replace_facts", 5, ing.facts(when=T0))
    drain()
    ing.post(
        client,
        "deactivate node",
        3,
        {"certname": "node1.example.com", "producer_timestamp": ing.ts(T0 + dt.timedelta(minutes=1))},
    )
    drain()
    node = Node.objects.get()
    assert node.deactivated == T0 + dt.timedelta(minutes=1)
    ing.post(client, "replace_facts", 5, ing.facts(when=T0 + dt.timedelta(minutes=2)))
    drain()
    node.refresh_from_db()
    assert node.deactivated is None
    ing.post(
        client,
        "configure expiration",
        1,
        {"certname": "node1.example.com", "expire": {"facts": False}, "producer_timestamp": ing.ts(T0)},
    )
    drain()
    node.refresh_from_db()
    assert node.expires_facts is False and node.expires_facts_updated == T0


def test_coalescing_newest_wins_and_older_never_overwrites(client):
    for minute in (5, 1, 3):
        ing.post(client, "replace_facts", 5, ing.facts(when=T0 + dt.timedelta(minutes=minute), marker=minute))
    counts = drain()
    assert counts["stored"] == 1 and counts["superseded"] == 2
    assert Factset.objects.get().facts["marker"] == 5
    assert sorted(Command.objects.values_list("state", flat=True)) == ["done", "superseded", "superseded"]
    # An older command arriving later does not overwrite newer data.
    ing.post(client, "replace_facts", 5, ing.facts(when=T0, marker=0))
    assert drain()["stale"] == 1
    assert Factset.objects.get().facts["marker"] == 5
    ing.post(client, "replace_catalog", 9, ing.catalog(when=T0 + dt.timedelta(hours=1), extra=2))
    drain()
    ing.post(client, "replace_catalog", 9, ing.catalog(when=T0, extra=4))
    drain()
    assert Catalog.objects.get().resource_set.size == 4


def test_idempotent_replay_of_a_done_command(client):
    ing.post(client, "replace_catalog", 9, ing.catalog(when=T0, extra=3))
    drain()
    Command.objects.update(state="pending")
    drain()
    cat = Catalog.objects.get()
    assert cat.compiles == 2 and Resource.objects.count() == 5


def test_bad_command_dead_others_in_batch_stored_and_replay(client):
    ing.post(client, "replace_facts", 5, ing.facts(certname="good", when=T0))
    # Passes the envelope, fails in the worker: a NUL character PostgreSQL's jsonb refuses.
    ing.post(client, "replace_facts", 5, ing.facts(certname="bad", when=T0, broken="a\u0000b"))
    ing.post(client, "replace_catalog", 9, ing.catalog(certname="good", when=T0))
    from django.test import override_settings

    with override_settings(INGEST_MAX_ATTEMPTS=1):
        counts = drain()
    assert counts["dead"] == 1 and counts["stored"] == 2
    dead = Command.objects.get(state="dead")
    assert dead.certname == "bad" and "\\u0000" in dead.last_error or "0x00" in dead.last_error or dead.last_error
    assert Factset.objects.filter(node__certname="good").exists()
    assert not Node.objects.filter(certname="bad").exists()
    call_command("inbox", "list")
    assert inbox.replay([dead.id]) == 1
    dead.refresh_from_db()
    assert dead.state == "pending" and dead.attempts == 0


def test_retry_with_backoff_then_dead(client, settings):
    settings.INGEST_MAX_ATTEMPTS = 2
    settings.INGEST_RETRY_BASE_SECONDS = 0
    ing.post(client, "replace_facts", 5, ing.facts(certname="bad", when=T0, broken="a\u0000b"))
    assert drain()["retry"] == 1
    cmd = Command.objects.get()
    assert cmd.state == "pending" and cmd.attempts == 1 and cmd.last_error and cmd.next_attempt_at
    assert drain()["dead"] == 1
    cmd.refresh_from_db()
    assert cmd.state == "dead" and cmd.attempts == 2


def test_captured_puppet_apply_payloads_field_by_field(client):
    facts = ing.load("puppet-apply-facts-v5.json")
    catalog = ing.load("puppet-apply-catalog-v9.json")
    report = ing.load("puppet-apply-report-v8.json")
    for command, version, doc in (
        ("replace_facts", 5, facts),
        ("replace_catalog", 9, catalog),
        ("store_report", 8, report),
    ):
        assert ing.post(client, command, version, doc, gzip_body=True).status_code == 200
    body = (ing.FIXTURES / "ingest" / "puppet-apply-http-report-format12.yaml").read_bytes()
    assert client.post("/reports/upload", data=body, content_type="application/x-yaml").status_code == 200
    counts = drain()
    assert counts["stored"] == 4
    node = Node.objects.get(certname="e2e-node.example.com")
    fs = node.factset
    assert fs.facts == facts["values"] and fs.producer.name == facts["producer"]
    assert fs.environment.name == "production"
    cat = Catalog.objects.get(node=node)
    assert cat.catalog_uuid == catalog["catalog_uuid"] and cat.version == catalog["version"]
    assert cat.producer.name == catalog["producer"] and cat.code_id is None and cat.transaction_uuid is None
    stored = {(r.type, r.title): r for r in Resource.objects.filter(id__in=cat.resource_set.resource_ids)}
    assert len(stored) == len(catalog["resources"])
    for r in catalog["resources"]:
        s = stored[(r["type"], r["title"])]
        assert s.parameters == r["parameters"] and s.exported == r["exported"]
        assert s.file == r.get("file") and s.line == r.get("line") and s.tags == sorted(set(r["tags"]))
    assert sorted(cat.edge_set.edges) == sorted(
        [e["source"]["type"], e["source"]["title"], e["relationship"], e["target"]["type"], e["target"]["title"]]
        for e in catalog["edges"]
    )
    reps = {r.source: r for r in Report.objects.filter(node_id=node.id)}
    terminus, http = reps["puppetdb"], reps["http"]
    assert terminus.transaction_uuid == report["transaction_uuid"] and terminus.catalog_uuid == report["catalog_uuid"]
    assert terminus.status == report["status"] and terminus.producer.name == report["producer"]
    assert len(terminus.logs) == len(report["logs"]) and terminus.metrics == report["metrics"]
    events = ResourceEvent.objects.filter(report_id=terminus.id)
    assert events.count() == sum(len(r["events"]) for r in report["resources"])
    assert http.report_format == 12 and http.transaction_uuid != terminus.transaction_uuid
    # The http report is the newer run: it is the node's latest.
    assert node.latest_report_id == http.id


def test_purge_processed_keeps_dead_and_pending():
    from django.utils import timezone

    old = timezone.now() - dt.timedelta(hours=2)
    for state in ("done", "superseded", "dead", "pending"):
        Command.objects.create(
            command="replace_facts", version=5, certname=state, payload=b"{}", state=state, processed_at=old
        )
    Command.objects.create(
        command="replace_facts", version=5, certname="fresh", payload=b"{}", state="done", processed_at=timezone.now()
    )
    assert inbox.purge_processed(keep_seconds=3600) == 2
    assert sorted(Command.objects.values_list("certname", flat=True)) == ["dead", "fresh", "pending"]


def test_signals_sent_with_stored_objects(client):
    from inventory import signals

    seen = []

    def on_report(sender, report, node, previous_status, **kw):
        seen.append(("report", report.id, report.status, node.latest_report_id, previous_status))

    def on_status(sender, node, previous_status, status, report, **kw):
        seen.append(("status", previous_status, status, report.id))

    def on_deactivated(sender, node, reason, **kw):
        seen.append(("deactivated", node.certname, reason))

    def on_dead(sender, command, **kw):
        seen.append(("dead", command.certname, bool(command.last_error)))

    pairs = [
        (signals.report_stored, on_report),
        (signals.node_status_changed, on_status),
        (signals.node_deactivated, on_deactivated),
        (signals.command_dead, on_dead),
    ]
    for sig, fn in pairs:
        sig.connect(fn)
    try:
        ing.post(client, "store_report", 8, ing.report())
        ing.post(
            client,
            "deactivate_node",
            3,
            {"certname": "node1.example.com", "producer_timestamp": ing.ts(dt.datetime.now(dt.UTC))},
        )
        ing.post(client, "replace_facts", 5, ing.facts(certname="bad", when=T0, broken="a\u0000b"))
        from django.test import override_settings

        with override_settings(INGEST_MAX_ATTEMPTS=1):
            drain()
    finally:
        for sig, fn in pairs:
            sig.disconnect(fn)
    rep = Report.objects.get()
    assert ("report", rep.id, "changed", rep.id, None) in seen
    assert ("status", None, "changed", rep.id) in seen
    assert ("deactivated", "node1.example.com", "deactivated") in seen
    assert ("dead", "bad", True) in seen


def test_replace_catalog_inputs(client):
    from inventory.models import CatalogInputs

    doc = {
        "certname": "node1.example.com",
        "catalog_uuid": "c-1",
        "producer_timestamp": ing.ts(T0),
        "inputs": [["hiera", "ntp::servers"], ["hiera", "apache::port"], ["hiera", "ntp::servers"]],
    }
    assert ing.post(client, "replace catalog inputs", 1, doc).status_code == 200
    drain()
    ci = CatalogInputs.objects.get(node__certname="node1.example.com")
    assert ci.catalog_uuid == "c-1" and ci.inputs == [["hiera", "apache::port"], ["hiera", "ntp::servers"]]
    older = dict(doc, catalog_uuid="c-0", producer_timestamp=ing.ts(T0 - dt.timedelta(hours=1)))
    ing.post(client, "replace_catalog_inputs", 1, older)
    assert drain()["stale"] == 1
    assert CatalogInputs.objects.get().catalog_uuid == "c-1"
    bad = dict(doc, inputs=[["hiera"]])
    resp = ing.post(client, "replace_catalog_inputs", 1, bad)
    assert resp.status_code == 400 and "inputs[0]" in resp.json()["error"]


def test_producer_timestamp_from_the_query_parameter(client):
    # PuppetDB's own sample facts carry no producer_timestamp; the parameter stands in.
    doc = ing.load("facts-v5-with-package-inventory-pg1.vm.json")
    assert "producer_timestamp" not in doc
    resp = ing.post(client, "replace_facts", 5, doc, **{"producer-timestamp": ing.ts(T0)})
    assert resp.status_code == 200, resp.content
    assert drain()["stored"] == 1
    assert Factset.objects.get().producer_timestamp == T0
    resp = ing.post(client, "replace_facts", 5, doc)
    assert resp.status_code == 400 and "producer_timestamp" in resp.json()["error"]


def test_same_run_terminus_first_then_richer_http_replaces(client):
    from reports.parsing import parse_report_body

    body = (ing.FIXTURES / "ingest" / "report-format12-puppet-apply.yaml").read_bytes()
    wire = parse_report_body(body, "yaml")
    wire["resources"] = [r for r in wire["resources"] if r["events"]]  # what the terminus sends
    wire["producer_timestamp"] = ing.ts(dt.datetime(2026, 11, 21, 20, 42, 5, tzinfo=dt.UTC))
    ing.post(client, "store_report", 8, wire)
    drain()
    first = Report.objects.get()
    assert first.source == "puppetdb" and len(first.resources) == 2
    assert client.post("/reports/upload", data=body, content_type="application/x-yaml").status_code == 200
    assert drain()["replaced"] == 1
    kept = Report.objects.get()
    assert kept.source == "http" and len(kept.resources) == 10 and kept.id != first.id
    assert ResourceEvent.objects.filter(report_id=first.id).count() == 0
    assert ResourceEvent.objects.filter(report_id=kept.id).count() == 2
    assert Node.objects.get(certname="vm").latest_report_id == kept.id


def test_management_command_list_replay_requeue(client, capsys):
    a = Command.objects.create(
        command="replace_facts", version=5, certname="a", payload=b"{}", state="dead", last_error="boom"
    )
    Command.objects.create(
        command="replace_facts", version=5, certname="b", payload=b"{}", state="dead", last_error="bang"
    )
    call_command("inbox", "list", "--state", "dead")
    out = capsys.readouterr().out
    assert "boom" in out and "bang" in out and str(a.uuid) in out
    call_command("inbox", "replay", str(a.id))
    assert "replayed 1" in capsys.readouterr().out
    call_command("inbox", "replay", "--all")
    assert "replayed 1" in capsys.readouterr().out
    assert set(Command.objects.values_list("state", flat=True)) == {"pending"}
    call_command("inbox", "requeue")
    assert "re-queued 2" in capsys.readouterr().out
