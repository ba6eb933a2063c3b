"""As the web service runs (autocommit, no transaction around the request), a query PostgreSQL
rejects is a 400 and leaves the connection usable for the next request: no BEGIN/COMMIT is
spent on plain reads, and no aborted transaction is left behind."""

import json

import pytest
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_rejected_regex_then_a_good_query_on_the_same_connection(client, fleet_module):
    assert connection.get_autocommit() and not connection.in_atomic_block
    bad = client.get("/pdb/query/v4/nodes", {"query": json.dumps(["~", "certname", "(unclosed"])})
    assert bad.status_code == 400 and "regular expression" in bad.content.decode()
    assert connection.get_autocommit() and not connection.in_atomic_block
    good = client.get("/pdb/query/v4/nodes", {"query": json.dumps(["~", "certname", "^web-"])})
    assert good.status_code == 200
    assert sorted(n["certname"] for n in good.json()) == [
        "web-01.example.com",
        "web-02.example.com",
        "web-03.example.com",
    ]
    total = client.get("/pdb/query/v4/environments", {"include_total": "true"})
    assert total.status_code == 200 and int(total["X-Records"]) == len(total.json())
