"""PQL → AST (lark grammar), without a database."""

import pytest

from inventory.query import QueryError, pql

CASES = [
    ("nodes {}", ["from", "nodes"]),
    ("nodes[] { }", ["from", "nodes"]),
    ("nodes[certname] { certname ~ 'web' }", ["from", "nodes", ["extract", ["certname"], ["~", "certname", "web"]]]),
    (
        'nodes { certname = "a" and (latest_report_status = "failed" or !(report_environment = "x")) }',
        [
            "from",
            "nodes",
            [
                "and",
                ["=", "certname", "a"],
                ["or", ["=", "latest_report_status", "failed"], ["not", ["=", "report_environment", "x"]]],
            ],
        ],
    ),
    (
        "nodes { certname != 'a' and certname !~ 'b' }",
        ["from", "nodes", ["and", ["not", ["=", "certname", "a"]], ["not", ["~", "certname", "b"]]]],
    ),
    (
        "nodes { deactivated is null or expired is not null }",
        ["from", "nodes", ["or", ["null?", "deactivated", True], ["null?", "expired", False]]],
    ),
    (
        "facts[name, count()] { group by name }",
        ["from", "facts", ["extract", ["name", ["function", "count"]], ["group_by", "name"]]],
    ),
    (
        "reports[to_string(producer_timestamp, 'YYYY'), count()] { group by to_string(producer_timestamp, 'YYYY') }",
        [
            "from",
            "reports",
            [
                "extract",
                [["function", "to_string", "producer_timestamp", "YYYY"], ["function", "count"]],
                ["group_by", ["function", "to_string", "producer_timestamp", "YYYY"]],
            ],
        ],
    ),
    (
        "nodes { limit 5 offset 10 order by certname desc, report_timestamp }",
        ["from", "nodes", ["limit", 5], ["offset", 10], ["order_by", [["certname", "desc"], "report_timestamp"]]],
    ),
    ("nodes { resources { type = 'Class' } }", ["from", "nodes", ["subquery", "resources", ["=", "type", "Class"]]]),
    (
        "nodes { certname in facts[certname] { name = 'x' } }",
        ["from", "nodes", ["in", "certname", ["from", "facts", ["extract", ["certname"], ["=", "name", "x"]]]]],
    ),
    ("nodes { certname in ['a', 'b'] }", ["from", "nodes", ["in", "certname", ["array", ["a", "b"]]]]),
    (
        "fact_contents { path ~> ['os', '.*'] and path = ['disks', 0] }",
        ["from", "fact_contents", ["and", ["~>", "path", ["os", ".*"]], ["=", "path", ["disks", 0]]]],
    ),
    (
        'inventory { facts.os.family = "Debian" and trusted.extensions.pp_role = "web" and facts.disks[0].size > 1.5 }',
        [
            "from",
            "inventory",
            [
                "and",
                ["=", "facts.os.family", "Debian"],
                ["=", "trusted.extensions.pp_role", "web"],
                [">", "facts.disks[0].size", 1.5],
            ],
        ],
    ),
    (
        'inventory { facts."a.b" = true and facts.n = -3 }',
        ["from", "inventory", ["and", ["=", 'facts."a.b"', True], ["=", "facts.n", -3]]],
    ),
    ("reports { latest_report? = true }", ["from", "reports", ["=", "latest_report?", True]]),
    ('nodes { certname = "quote \\" and \\u00e9" }', ["from", "nodes", ["=", "certname", 'quote " and é']]),
]


@pytest.mark.parametrize(("text", "ast"), CASES)
def test_pql_to_ast(text, ast):
    assert pql.parse(text) == ast


def test_ui_condition_with_barewords():
    assert pql.parse_condition('facts.os.family = "Debian" and status = failed') == [
        "and",
        ["=", "facts.os.family", "Debian"],
        ["=", "status", "failed"],
    ]
    assert pql.parse_condition("certname ~ web-0 or environment = production") == [
        "or",
        ["~", "certname", "web-0"],
        ["=", "environment", "production"],
    ]
    assert pql.parse_condition("  ") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nodes",
        "nodes {",
        "widgets {}",
        "nodes { certname = }",
        "nodes { = 'a' }",
        "nodes { a = b }",
        "nodes { certname in facts { name = 'x' } }",
        "nodes { group by certname }",
        "nodes { limit x }",
        "nodes { certname = 'a' } trailing",
        "x" * 100_001,
    ],
)
def test_bad_pql_is_a_query_error(text):
    with pytest.raises(QueryError):
        pql.parse(text)
