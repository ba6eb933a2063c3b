"""Command names, versions and payload upgrades (pure functions)."""

from __future__ import annotations

import datetime as dt
import gzip

import pytest

from ingest.commands import CommandError, command_name, command_version, normalise, parse_time
from ingest.receivers import accept_command, read_body
from inventory.storage.facts import split
from tests.support import ingest as ing


def test_names_and_versions():
    assert command_name("replace catalog") == "replace_catalog"
    assert command_name("Store_Report") == "store_report"
    assert command_version("replace_facts", "5") == 5
    for name, bad in (("replace_facts", 3), ("replace_catalog", 5), ("store_report", 4), ("deactivate_node", 2)):
        with pytest.raises(CommandError, match="retired"):
            command_version(name, bad)
    with pytest.raises(CommandError, match="newest"):
        command_version("replace_catalog", 10)


def test_timestamps():
    assert parse_time("2014-07-10T22:33:54.781Z", "t") == dt.datetime(2014, 7, 10, 22, 33, 54, 781000, tzinfo=dt.UTC)
    assert parse_time("2026-11-21T20:42:03.517348958+00:00", "t").microsecond == 517348


def test_catalog_upgrades():
    doc = ing.load("catalog-tiny.json")
    doc["transaction_uuid"] = "t"
    v6 = normalise("replace_catalog", 6, doc)
    assert v6["code_id"] is None and v6["catalog_uuid"] == "t" and v6["producer"] is None and v6["job_id"] is None
    doc["producer"] = "p"
    doc["job_id"] = "j"
    doc["code_id"] = "c"
    v9 = normalise("replace_catalog", 9, doc)
    assert (v9["producer"], v9["job_id"], v9["code_id"]) == ("p", "j", "c")
    assert v9["edges"] == [["Apt::Pin", "puppetlabs", "contains", "File", "/etc/apt/preferences.d/puppetlabs.pref"]]


def test_deprecated_body_form():
    payload = ing.facts()
    body = gzip.compress(
        __import__("json").dumps({"command": "replace facts", "version": 5, "payload": payload}).encode()
    )
    acc = accept_command({}, {"content-encoding": "gzip"}, body, 10_000_000)
    assert acc.command == "replace_facts" and acc.version == 5 and acc.certname == payload["certname"]
    assert acc.payload_encoding == "identity" and b"values" in acc.payload


def test_read_body_limits():
    assert read_body(gzip.compress(b"x" * 100), "gzip", 100) == b"x" * 100
    with pytest.raises(CommandError) as err:
        read_body(gzip.compress(b"x" * 101), "gzip", 100)
    assert err.value.status == 413


def test_fact_split():
    stable = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    new_stable, volatile = split(stable, {}, {**stable, "a": 10})
    assert volatile == {"a": 10} and new_stable == {"b": 2, "c": 3, "d": 4, "e": 5}
    # Volatile-only change keeps stable.
    again, volatile2 = split(new_stable, volatile, {**stable, "a": 11})
    assert again is None and volatile2 == {"a": 11}
    # True and 1 are different facts.
    s3, v3 = split(new_stable, volatile, {**stable, "a": 11, "b": True})
    assert v3 == {"a": 11, "b": True} and "b" not in s3
