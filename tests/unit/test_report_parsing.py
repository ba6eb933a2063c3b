"""Puppet report YAML (formats 4-12, Ruby tags) and JSON converted to PuppetDB's v8 shape."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from ingest.commands import normalise
from reports.parsing import ReportParseError, load_yaml, parse_report_body
from reports.parsing.yaml_loader import YamlError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
F12 = (FIX / "report-format12-puppet-apply.yaml").read_bytes()


def test_format12_real_puppet_apply():
    wire = parse_report_body(F12, "yaml")
    cmd = normalise("store_report", 8, wire)
    assert cmd["certname"] == "vm" and cmd["report_format"] == 12 and cmd["puppet_version"] == "7.23.0"
    assert cmd["transaction_uuid"] == "26282d6f-bd1e-460b-bbe5-92c7acf6572c"
    assert cmd["catalog_uuid"] == "0db3f250-c804-4337-9887-baaf273ba10f"
    assert cmd["cached_catalog_status"] == "not_used" and cmd["noop"] is False and cmd["noop_pending"] is False
    assert cmd["start_time"] == dt.datetime(2026, 11, 21, 20, 42, 3, 517348, tzinfo=dt.UTC)
    total = next(m["value"] for m in cmd["metrics"] if m["category"] == "time" and m["name"] == "total")
    assert cmd["end_time"] == cmd["start_time"] + dt.timedelta(seconds=total)
    by_title = {r["resource_title"]: r for r in cmd["resources"]}
    f = by_title["/tmp/ingest-pa/out.txt"]
    assert f["resource_type"] == "File" and f["line"] == 1 and f["containment_path"][0] == "Stage[main]"
    assert f["events"][0]["property"] == "ensure" and f["events"][0]["old_value"] == "absent"
    assert f["events"][0]["new_value"] == "file" and f["events"][0]["status"] == "success"
    assert len(cmd["logs"]) == 4 and cmd["logs"][1]["message"] == "hello"


@pytest.mark.parametrize("fmt", range(5, 12))
def test_formats_5_to_11(fmt):
    text = F12.decode().replace("report_format: 12", f"report_format: {fmt}")
    if fmt < 10:
        text = text.replace("transaction_completed: true\n", "")
    if fmt < 9:
        text = text.replace("noop_pending: false\n", "")
    if fmt < 8:
        text = "\n".join(line for line in text.splitlines() if "corrective_change" not in line) + "\n"
    if fmt < 6:
        text = text.replace("cached_catalog_status: not_used\n", "")
    cmd = normalise("store_report", 8, parse_report_body(text.encode(), "yaml"))
    assert cmd["report_format"] == fmt and len(cmd["resources"]) == 10
    assert cmd["noop_pending"] is (False if fmt >= 9 else None)


def test_format4_puppet3_with_ruby_tags():
    body = (FIX / "report-format4-puppet3.yaml").read_bytes()
    cmd = normalise("store_report", 8, parse_report_body(body, "yaml"))
    assert cmd["certname"] == "old.example.com" and cmd["report_format"] == 4
    assert cmd["start_time"] == dt.datetime(2014, 3, 4, 9, 59, 59, 500000, tzinfo=dt.UTC)
    assert cmd["end_time"] == cmd["start_time"] + dt.timedelta(seconds=1.5)
    assert cmd["logs"][0]["level"] == "notice"
    ev = next(r for r in cmd["resources"] if r["resource_title"] == "/tmp/x")["events"][0]
    assert ev["old_value"] == "absent" and ev["new_value"] == "file" and ev["name"] == "file_created"
    assert {(m["category"], m["name"]) for m in cmd["metrics"]} >= {("resources", "total"), ("events", "success")}
    assert cmd["status"] == "changed"


def test_puppet_json_report():
    doc = load_yaml(F12)
    cmd = normalise("store_report", 8, parse_report_body(orjson.dumps(doc), "json"))
    assert cmd["certname"] == "vm" and len(cmd["resources"]) == 10


def test_only_safe_tags():
    with pytest.raises(YamlError):
        load_yaml(b"--- !!python/object/new:os.system [echo hi]\n")
    with pytest.raises(YamlError):
        load_yaml(b"--- !ruby/exotic {a: 1}\n")
    assert load_yaml(b"--- !ruby/object:Foo::Bar\na: !ruby/sym b\n") == {"a": "b"}


def test_size_cap():
    with pytest.raises(YamlError, match="larger"):
        load_yaml(b"a: b\n" * 100, max_bytes=50)


def test_missing_time():
    with pytest.raises(ReportParseError, match="time"):
        parse_report_body(b"--- !ruby/object:Puppet::Transaction::Report\nhost: a\nreport_format: 10\n", "yaml")


def test_skipped_resource_is_one_detail_free_event_as_in_puppetdb():
    wire = parse_report_body(F12, "yaml")
    skipped = dict(wire["resources"][0], skipped=True)
    skipped["events"] = [
        {
            "status": "skipped",
            "timestamp": "2026-11-21T20:42:04.000Z",
            "property": "ensure",
            "name": "ensure_changed",
            "old_value": "stopped",
            "new_value": "running",
            "message": "Skipped because of failed dependencies",
            "corrective_change": True,
        }
    ]
    wire["resources"] = [skipped, *wire["resources"][1:]]
    cmd = normalise("store_report", 8, wire)
    resource = cmd["resources"][0]
    assert resource["skipped"] is True
    assert resource["events"] == [
        {
            "status": "skipped",
            "timestamp": resource["timestamp"],
            "property": None,
            "name": None,
            "old_value": None,
            "new_value": None,
            "message": None,
            "corrective_change": None,
        }
    ]
    # resources that were not skipped keep their own events
    assert (
        cmd["resources"][1]["events"]
        == normalise("store_report", 8, parse_report_body(F12, "yaml"))["resources"][1]["events"]
    )
