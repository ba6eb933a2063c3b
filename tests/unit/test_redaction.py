"""Sensitive values never reach storage: catalog ``sensitive_parameters``, redacted report events,
and Ruby ``Sensitive`` objects in YAML reports."""

from __future__ import annotations

import orjson

from ingest.commands import normalise
from inventory.redaction import REDACTED
from reports.parsing.yaml_loader import load_yaml
from tests.conftest import PUPPETDB_EXAMPLES


def test_catalog_sensitive_parameters_are_redacted():
    catalog = orjson.loads((PUPPETDB_EXAMPLES / "catalog-tiny.json").read_bytes())
    catalog["producer_timestamp"] = "2026-01-01T00:00:00.000Z"
    catalog["resources"][0]["parameters"]["content"] = "password=hunter2"
    catalog["resources"][0]["sensitive_parameters"] = ["content", "not_a_parameter"]
    cmd = normalise("replace_catalog", 9, catalog)
    params = cmd["resources"][0]["parameters"]
    assert params["content"] == REDACTED
    assert params["mode"] == "0644"  # the others are kept
    assert "hunter2" not in orjson.dumps(cmd).decode()
    other = normalise("replace_catalog", 9, catalog)["resources"][1]
    assert other["parameters"] == catalog["resources"][1]["parameters"]  # no sensitive_parameters


def test_redacted_report_events_keep_no_values():
    report = orjson.loads((PUPPETDB_EXAMPLES / "report-v8-changed-with-events.json").read_bytes())
    event = report["resources"][0]["events"][0]
    event["redacted"] = True
    event["old_value"], event["new_value"] = "old-secret", "new-secret"
    cmd = normalise("store_report", 8, report)
    stored = cmd["resources"][0]["events"][0]
    assert stored["old_value"] == REDACTED and stored["new_value"] == REDACTED
    assert "old-secret" not in orjson.dumps(cmd).decode()
    assert cmd["resources"][0]["events"][0]["property"] == event["property"]


def test_ruby_sensitive_objects_in_yaml_become_redacted():
    document = load_yaml(
        b"--- !ruby/object:Puppet::Transaction::Report\n"
        b"host: a.example\n"
        b"secret: !ruby/object:Puppet::Pops::Types::PSensitiveType::Sensitive\n"
        b"  value: hunter2\n"
        b"plain: visible\n"
    )
    assert document["secret"] == REDACTED
    assert document["plain"] == "visible"
