"""AST validation and SQL generation, without a database: values never reach the SQL text."""

import pytest

from inventory.query import QueryError, build
from inventory.query.compiler import Paging, split_dotted

EVIL = "x'); DROP TABLE inventory_node; --"


def test_values_are_bound_parameters_never_sql_text():
    queries = [
        ("nodes", ["=", "certname", EVIL]),
        ("nodes", ["=", ["fact", EVIL], EVIL]),
        ("inventory", ["=", f"facts.{EVIL.replace('.', '_')}", EVIL]),
        ("resources", ["=", ["parameter", EVIL], EVIL]),
        ("facts", ["in", "name", ["array", [EVIL]]]),
        ("fact_contents", ["~>", "path", [EVIL, 0]]),
        ("reports", ["~", "certname", EVIL]),
    ]
    for entity, query in queries:
        compiled = build(entity, query)
        assert "DROP" not in compiled.sql and EVIL not in compiled.sql
        assert EVIL in repr(compiled.params)


def test_limit_offset_order_by_are_parameters_or_whitelisted():
    compiled = build("nodes", None, Paging(limit=5, offset=7, order_by=[("certname", True)]))
    assert "LIMIT %(" in compiled.sql and "OFFSET %(" in compiled.sql and "n.certname DESC" in compiled.sql
    with pytest.raises(QueryError, match="order_by"):
        build("nodes", None, Paging(order_by=[("certname; DROP", False)]))


@pytest.mark.parametrize(
    ("entity", "query", "message"),
    [
        ("nodes", ["=", "certname"], "two arguments"),
        ("nodes", ["=", "certname", "a", "b"], "two arguments"),
        ("nodes", ["bogus", "certname", "a"], "not a valid operator"),
        ("nodes", ["=", "nope", "a"], "not a queryable"),
        ("nodes", ["=", "certname", 1], "string"),
        ("nodes", ["=", "latest_report_noop", "maybe"], "boolean"),
        ("nodes", ["<", "certname", 1], "not allowed"),
        ("nodes", ["=", "report_timestamp", "not a time"], "timestamp"),
        ("nodes", ["null?", "certname", "yes"], "true or false"),
        ("nodes", ["not", ["=", "certname", "a"], ["=", "certname", "b"]], "exactly one"),
        ("nodes", ["or"], "at least one"),
        ("nodes", ["in", "certname", ["array"]], "array"),
        ("nodes", ["in", ["certname", "deactivated"], ["array", ["a"]]], "one field"),
        ("nodes", ["in", "certname", ["extract", ["certname"], ["select_widgets"]]], "widgets"),
        ("nodes", ["subquery", "packages"], "no implicit relationship"),
        ("nodes", ["extract", [["function", "sum", "certname"]]], "not supported"),
        ("nodes", ["extract", ["certname", ["function", "count"]]], "group_by"),
        ("nodes", ["node_state", "x"], "not a valid operator"),
        ("nodes", ["=", "node_state", "sleepy"], "node_state"),
        ("reports", ["=", "latest_report?", "yes"], "latest_report?"),
        ("fact_contents", ["~>", "path", "os"], "regular expressions"),
        ("fact_contents", ["~>", "certname", ["a"]], "path fields"),
        ("facts", [">", "value", {"a": 1}], "number"),
        ("inventory", ["=", "facts.a..b", 1], "dotted"),
        ("nodes", "certname", "valid query"),
        ("widgets", None, "not a queryable object"),
    ],
)
def test_invalid_queries_are_rejected_with_a_message(entity, query, message):
    with pytest.raises(QueryError, match=message):
        build(entity, query)


def test_deeply_nested_query_is_rejected():
    query = ["=", "certname", "a"]
    for _ in range(200):
        query = ["not", query]
    with pytest.raises(QueryError, match="nested too deeply"):
        build("nodes", query)


def test_dotted_paths():
    assert split_dotted("facts.os.family") == ["facts", "os", "family"]
    assert split_dotted('facts."a.b".c') == ["facts", "a.b", "c"]
    assert split_dotted("facts.disks[0].size") == ["facts", "disks", "0", "size"]
    assert split_dotted("certname") is None


def test_active_filter_rules():
    assert "n.deactivated IS NULL" in build("nodes", None).sql
    assert "n.deactivated IS NULL" not in build("nodes", ["=", "node_state", "any"]).sql
    assert "deactivated" not in build("reports", None).sql  # like PuppetDB's /reports
    # ... and its root endpoint: reading nothing else of the node, it excludes the inactive ones
    # without joining the node row.
    root_reports = build(None, ["from", "reports"]).sql
    assert "xn.deactivated IS NOT NULL" in root_reports and "JOIN inventory_node n " not in root_reports
    latest = build(None, ["from", "reports", ["=", "latest_report?", True]]).sql
    assert "n.deactivated IS NULL" in latest and "JOIN inventory_node n " in latest
    assert "r.type = 'agent'" in build("reports", None).sql
    assert "r.type = 'agent'" not in build("reports", ["=", "type", "any"]).sql
    assert "c.valid_to IS NULL" in build("resources", ["=", "type", "Class"]).sql
    assert "AND c.valid_to IS NULL" not in build("resources", ["=", "at", "2026-01-01T00:00:00Z"]).sql
