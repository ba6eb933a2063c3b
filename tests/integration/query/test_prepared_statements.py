"""The query API binds server-side and lets psycopg prepare a statement the connection runs again
(QUERY_PREPARED_STATEMENTS, QUERY_PREPARE_THRESHOLD): the answers are the same either way, also
once PostgreSQL switches the prepared statement to a generic plan, and errors stay 400s."""

import json

import pytest
from django.db import connection
from django.test import override_settings

from inventory.query.compiler import Params

CERTNAMES = ["web-01.example.com", "web-02.example.com", "db-01.example.com"]


def prepared_statements(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"])
        return cursor.fetchone()[0]


def node_query(client, certname):
    response = client.get("/pdb/query/v4/nodes", {"query": json.dumps(["=", "certname", certname])})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_prepared_statements_answer_as_client_side_binding(client, fleet_module):
    # One test: the module's fleet is loaded once, and a transactional test empties the database.
    with override_settings(QUERY_PREPARED_STATEMENTS=False):
        expected = {c: node_query(client, c) for c in CERTNAMES}
    assert all(len(rows) == 1 for rows in expected.values())
    assert prepared_statements("inventory_node") == 0
    # Twelve runs with changing values: past the threshold (2) and past PostgreSQL's five custom
    # plans, after which it may run the prepared statement with a generic plan.
    for i in range(12):
        certname = CERTNAMES[i % 3]
        assert node_query(client, certname) == expected[certname]
    assert prepared_statements("inventory_node") >= 1

    # include_total's count statement and the rows statement are prepared each on their own.
    before = prepared_statements("FROM inventory_environment env")
    for _ in range(3):
        total = client.get("/pdb/query/v4/environments", {"include_total": "true"})
        assert int(total["X-Records"]) == len(total.json()) > 0
    assert prepared_statements("FROM inventory_environment env") == before + 2

    # A statement PostgreSQL rejects is a 400 each time, and the connection stays usable.
    for _ in range(4):
        bad = client.get("/pdb/query/v4/nodes", {"query": json.dumps(["~", "certname", "(unclosed"])})
        assert bad.status_code == 400 and "regular expression" in bad.content.decode()
        assert node_query(client, "web-01.example.com") == expected["web-01.example.com"]

    # The format is one parameter in the select list and the GROUP BY: bound server-side, two
    # parameters would make them different expressions and PostgreSQL would refuse the statement.
    day = ["function", "to_string", "producer_timestamp", "YYYY-MM-DD"]
    query = json.dumps(["extract", [["function", "count"], day], ["group_by", day]])
    answers = []
    for _ in range(3):
        response = client.get("/pdb/query/v4/reports", {"query": query})
        assert response.status_code == 200, response.content
        answers.append(sorted(response.json(), key=lambda r: r["to_string"]))
    assert answers[0] == answers[1] == answers[2] and sum(r["count"] for r in answers[0]) > 0


def test_params_share_a_placeholder_only_for_the_same_value_type_and_cast():
    params = Params()
    first = params.add("YYYY-MM-DD")
    assert params.add("YYYY-MM-DD") == first
    assert params.add("YYYY-MM-DD", "::text") != first
    assert params.add(1) != params.add(True) != params.add("1")
    assert params.add(1) == params.add(1)
    assert params.add([1]) != params.add([1])  # lists are never shared
    assert len(set(params.values)) == len(params.values) == 7
