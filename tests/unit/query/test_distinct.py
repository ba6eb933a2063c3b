"""distinct_resources: parameter pairing and the latest-events source, without a database."""

import datetime as dt

import pytest

from inventory.query import QueryError, Window, build, pql
from inventory.query.distinct import _latest_report_filter
from inventory.query.eventcounts import aggregate_event_counts, event_counts

TIMES = {"distinct_start_time": "2026-11-19T00:00:00Z", "distinct_end_time": "2026-11-23T12:30:00+01:00"}
EVIL = "x'); DROP TABLE reports_resourceevent; --"


def test_window_parses_the_three_parameters_together():
    assert Window.parse({}, None) is None
    window = Window.parse({"distinct_resources": "true", **TIMES}, True)
    assert window == Window(dt.datetime(2026, 11, 19, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 11, 30, tzinfo=dt.UTC))
    assert Window.parse({"distinct_resources": "false", **TIMES}, False) is None
    naive = Window.parse(
        {"distinct_resources": True, "distinct_start_time": "2026-11-19", "distinct_end_time": "2026-11-20T01:02:03"},
        True,
    )
    assert naive.start.tzinfo is dt.UTC and naive.end == dt.datetime(2026, 11, 20, 1, 2, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (TIMES, "'distinct_resources' query parameter must accompany parameters"),
        ({"distinct_resources": "true"}, "requires accompanying parameters"),
        ({"distinct_resources": "true", "distinct_end_time": "2026-11-23"}, "requires accompanying parameters"),
        ({"distinct_start_time": "2026-11-23"}, "requires accompanying parameters"),
        (
            {"distinct_resources": "true", **TIMES, "distinct_start_time": "soon"},
            "must be valid datetime strings: soon",
        ),
        ({"distinct_resources": "true", **TIMES, "distinct_end_time": 20261123}, "must be valid datetime strings"),
        ({"distinct_resources": "false", **TIMES, "distinct_end_time": None}, "must be valid datetime strings"),
    ],
)
def test_window_errors_are_puppetdbs(params, message):
    with pytest.raises(QueryError, match=message):
        Window.parse(params, params.get("distinct_resources") == "true")


def test_latest_report_only_restricts_the_candidates_when_it_is_the_whole_query():
    assert _latest_report_filter(["=", "latest_report?", True]) is True
    assert _latest_report_filter(["=", "latest_report?", False]) is False
    assert _latest_report_filter(["not", ["=", "latest_report?", True]]) is True  # PuppetDB's quirk
    assert _latest_report_filter(["and", ["=", "latest_report?", True], ["=", "status", "failure"]]) is None
    assert _latest_report_filter(None) is None


def test_the_window_and_values_are_bound_parameters():
    window = Window(dt.datetime(2026, 11, 19, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
    for compiled in (
        build("events", ["=", "certname", EVIL], window=window),
        event_counts(["=", "resource_title", EVIL], summarize_by="certname", window=window),
        aggregate_event_counts(["=", "message", EVIL], summarize_by="certname,resource", window=window),
    ):
        assert "max(le.timestamp)" in compiled.sql and "DROP" not in compiled.sql
        values = list(compiled.params.values())
        assert window.start in values and window.end in values and EVIL in values
    plain = build("events", ["=", "status", "failure"])
    assert "max(le.timestamp)" not in plain.sql
    # The window only changes events; other entities ignore it.
    assert build("nodes", None, window=window).sql == build("nodes", None).sql


def test_facts_expiration_and_catalog_inputs_entities_compile():
    assert "n.expires_facts" in build("nodes", None, facts_expiration=True).sql
    assert "n.expires_facts" not in build("nodes", None).sql
    root = build(None, ["from", "nodes", ["=", "certname", "a"]], facts_expiration=True)
    assert "expires_facts_updated" in root.sql
    assert "inventory_cataloginputs" in build("catalog-inputs", ["=", "inputs", EVIL]).sql
    assert pql.parse("catalog_inputs[certname] { inputs = 'ntp::servers' }") == [
        "from",
        "catalog_inputs",
        ["extract", ["certname"], ["=", "inputs", "ntp::servers"]],
    ]
    assert pql.parse("catalog_input_contents { name ~ 'ntp' }") == [
        "from",
        "catalog_input_contents",
        ["~", "name", "ntp"],
    ]
    with pytest.raises(QueryError, match="catalog_inputs"):
        build("catalog-inputs", ["=", "nope", 1])
