"""The PuppetDB-compatible query API over the fixture fleet, through Django's test client."""

import json
import re

import pytest
from django.test import override_settings

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def get(client, path, **params):
    for k, v in list(params.items()):
        if not isinstance(v, str):
            params[k] = json.dumps(v)
    return client.get(path, params)


def test_nodes_list_shape_and_paging(client, fleet_db):
    r = get(
        client,
        "/pdb/query/v4/nodes",
        order_by=[{"field": "certname", "order": "desc"}],
        limit="3",
        include_total="true",
    )
    assert r.status_code == 200, r.content
    assert r["X-Records"] == "11"
    rows = r.json()
    assert [n["certname"] for n in rows] == ["web-03.example.com", "web-02.example.com", "web-01.example.com"]
    assert TS.match(rows[0]["report_timestamp"]) and rows[0]["deactivated"] is None
    assert set(rows[0]) >= {
        "catalog_environment",
        "latest_report_status",
        "latest_report_hash",
        "cached_catalog_status",
    }


def test_node_detail_includes_inactive_and_404(client, fleet_db):
    r = client.get("/pdb/query/v4/nodes/old-01.example.com")
    assert r.status_code == 200 and TS.match(r.json()["deactivated"])
    r = client.get("/pdb/query/v4/nodes/nope.example.com")
    assert r.status_code == 404 and "nope.example.com" in r.json()["error"]


def test_sub_routes(client, fleet_db):
    r = client.get("/pdb/query/v4/nodes/db-01.example.com/facts/os")
    assert r.json()[0]["value"]["family"] == "RedHat"
    r = client.get("/pdb/query/v4/nodes/web-01.example.com/resources/File//etc/motd")
    assert r.status_code == 200 and len(r.json()) == 1 and r.json()[0]["parameters"]["mode"] == "0644"
    r = client.get("/pdb/query/v4/facts/role/db")
    assert sorted(f["certname"] for f in r.json()) == ["db-01.example.com", "db-02.example.com", "db-03.example.com"]
    r = client.get("/pdb/query/v4/resources/Class/Apache")
    assert len(r.json()) == 3
    r = client.get("/pdb/query/v4/catalogs/web-01.example.com")
    cat = r.json()
    assert cat["resources"]["href"].endswith("/catalogs/web-01.example.com/resources")
    assert any(x["title"] == "Apache" for x in cat["resources"]["data"])
    assert {"source_type", "target_title", "relationship"} <= set(cat["edges"]["data"][0])
    assert len(client.get("/pdb/query/v4/catalogs/web-01.example.com/edges").json()) == len(cat["edges"]["data"])
    assert client.get("/pdb/query/v4/environments/staging").json() == {"name": "staging"}
    assert client.get("/pdb/query/v4/environments/nope").status_code == 404
    assert {f["certname"] for f in client.get("/pdb/query/v4/environments/staging/facts").json()} == {
        "web-03.example.com",
        "db-03.example.com",
        "cache-02.example.com",
    }
    assert client.get("/pdb/query/v4/producers/puppet.example.com").json() == {"name": "puppet.example.com"}
    assert len(client.get("/pdb/query/v4/producers/puppet.example.com/catalogs").json()) == 12  # inactive too
    fs = client.get("/pdb/query/v4/factsets/web-01.example.com").json()
    assert fs["facts"]["href"].endswith("/factsets/web-01.example.com/facts")
    assert {f["name"] for f in fs["facts"]["data"]} >= {"os", "trusted"}
    assert len(client.get("/pdb/query/v4/package-inventory/db-01.example.com").json()) == 3


def test_reports_and_events(client, fleet_db):
    r = get(
        client,
        "/pdb/query/v4/reports",
        query=["=", "certname", "cache-01.example.com"],
        order_by=[{"field": "producer_timestamp"}],
    )
    reps = r.json()
    assert [x["status"] for x in reps] == ["changed", "failed"]
    latest = reps[-1]
    assert latest["metrics"]["data"] and latest["logs"]["data"][1]["level"] == "err"
    assert {e["status"] for e in latest["resource_events"]["data"]} == {"success", "failure", "skipped"}
    r = client.get(f"/pdb/query/v4/reports/{latest['hash']}/events")
    assert len(r.json()) == 3 and {e["containing_class"] for e in r.json()} == {"Base"}
    assert client.get(f"/pdb/query/v4/reports/{latest['hash']}/metrics").json() == latest["metrics"]["data"]
    assert client.get(f"/pdb/query/v4/reports/{latest['hash']}/logs").json() == latest["logs"]["data"]
    r = get(
        client,
        "/pdb/query/v4/reports",
        query=["extract", [["function", "count"], "status"], ["=", "latest_report?", True], ["group_by", "status"]],
    )
    assert {x["status"]: x["count"] for x in r.json()} == {"changed": 4, "unchanged": 6, "failed": 2}  # incl. inactive


def test_event_counts(client, fleet_db):
    r = get(client, "/pdb/query/v4/event-counts", query=["=", "latest_report?", True], summarize_by="certname")
    counts = {x["subject"]["title"]: x for x in r.json()}
    assert counts["cache-01.example.com"]["failures"] == 1 and counts["cache-01.example.com"]["skips"] == 1
    assert counts["lb-01.example.com"]["noops"] == 1
    r = get(
        client,
        "/pdb/query/v4/event-counts",
        query=["=", "latest_report?", True],
        summarize_by="resource",
        counts_filter=[">", "failures", 0],
    )
    assert {(x["subject"]["type"], x["subject"]["title"]) for x in r.json()} == {
        ("Package", "openssh-server"),
        ("Service", "apache2"),
    }
    r = get(
        client,
        "/pdb/query/v4/aggregate-event-counts",
        query=["=", "latest_report?", True],
        summarize_by="certname,resource",
    )
    agg = {x["summarize_by"]: x for x in r.json()}
    assert agg["certname"]["failures"] == 2 and agg["resource"]["total"] >= 3


def test_root_pql_and_ast_only(client, fleet_db):
    r = client.get("/pdb/query/v4", {"query": 'inventory[certname] { facts.os.family = "RedHat" order by certname }'})
    assert [x["certname"] for x in r.json()] == [
        "db-01.example.com",
        "db-02.example.com",
        "db-03.example.com",
        "mon-01.example.com",
    ]
    r = client.get("/pdb/query/v4", {"query": "nodes { certname ~ 'web' }", "ast_only": "true"})
    assert r.json() == ["from", "nodes", ["~", "certname", "web"]]
    r = client.post(
        "/pdb/query/v4",
        {"query": ["from", "facts", ["extract", [["function", "count"]], ["=", "name", "kernel"]]]},
        content_type="application/json",
    )
    assert r.json() == [{"count": 11}]


def test_meta_status_metrics(client, fleet_db):
    assert client.get("/pdb/meta/v1/version").json()["version"] >= "5.2.0"
    assert TS.match(client.get("/pdb/meta/v1/server-time").json()["server_time"])
    st = client.get("/status/v1/services/puppetdb-status").json()
    assert st["state"] == "running" and st["status"]["queue_depth"] == 0
    lst = client.get("/metrics/v2/list").json()
    assert "name=num-nodes" in lst["value"]["puppetlabs.puppetdb.population"]
    r = client.get("/metrics/v2/read/puppetlabs.puppetdb.population:name=num-nodes")
    assert r.json()["value"]["Value"] == 11
    r = client.get("/metrics/v2/read/puppetlabs.puppetdb.population:name=num-resources")
    assert r.json()["value"]["Value"] > 100
    assert client.get("/metrics/v2/read/nope:name=x").status_code == 404


BAD = [
    ("/pdb/query/v4/nodes", {"query": '["=", "certname"'}, "Malformed JSON"),
    ("/pdb/query/v4/nodes", {"query": '["=","nope","x"]'}, "nope"),
    ("/pdb/query/v4/nodes", {"query": '["==","certname","x"]'}, "operator"),
    ("/pdb/query/v4/nodes", {"query": '["=","certname"]'}, "two arguments"),
    ("/pdb/query/v4/nodes", {"query": '["not"]'}, "not"),
    ("/pdb/query/v4/nodes", {"query": '["=","certname",5]'}, "string"),
    ("/pdb/query/v4/nodes", {"query": '[">","certname","a"]'}, "certname"),
    ("/pdb/query/v4/nodes", {"query": '["=","report_timestamp","yesterday-ish"]'}, "timestamp"),
    ("/pdb/query/v4/nodes", {"query": '["~","certname","(unclosed"]'}, "regular expression"),
    ("/pdb/query/v4/nodes", {"query": '["~","certname","a{2,1}"]'}, "regular expression"),
    ("/pdb/query/v4/nodes", {"limit": "99999999999999999999"}, "limit"),
    ("/pdb/query/v4/nodes", {"limit": "-1"}, "limit"),
    ("/pdb/query/v4/nodes", {"limit": "ten"}, "limit"),
    ("/pdb/query/v4/nodes", {"offset": "-5"}, "offset"),
    ("/pdb/query/v4/nodes", {"order_by": '[{"field":"nope"}]'}, "nope"),
    ("/pdb/query/v4/nodes", {"order_by": "certname"}, "order_by"),
    ("/pdb/query/v4/nodes", {"frobnicate": "1"}, "Unsupported query parameter"),
    ("/pdb/query/v4/nodes", {"query": '["in","certname",["array","x"]]'}, "array"),
    ("/pdb/query/v4/nodes", {"query": '["in","certname",["from","nopes",["extract",["certname"]]]]'}, "nopes"),
    ("/pdb/query/v4/nodes", {"query": '["in",["certname","x"],["from","facts",["extract",["certname"]]]]'}, "x"),
    ("/pdb/query/v4/nodes", {"query": '["extract",[["function","median","x"]]]'}, "function"),
    ("/pdb/query/v4", {"query": "nodes { certname = }"}, "PQL"),
    ("/pdb/query/v4", {"query": "widgets { }"}, "PQL"),
    ("/pdb/query/v4", {}, "required"),
    ("/pdb/query/v4", {"query": '["from","widgets"]'}, "widgets"),
    ("/pdb/query/v4/event-counts", {"query": '["=","status","failure"]'}, "summarize_by"),
    ("/pdb/query/v4/event-counts", {"summarize_by": "colour"}, "summarize_by"),
    ("/pdb/query/v4/event-counts", {"summarize_by": "certname", "counts_filter": '[">","bogus",0]'}, "bogus"),
    ("/pdb/query/v4/facts", {"query": '["<","value","abc"]'}, "number"),
    ("/pdb/query/v4/fact-contents", {"query": '["~>","path","os"]'}, "regular expressions"),
    ("/pdb/query/v4/resources", {"query": '["=",["parameter",1],"x"]'}, "string"),
    ("/pdb/query/v4/nodes", {"query": '["and"]'}, "at least one"),
    ("/pdb/query/v4/nodes", {"query": "42"}, "JSON array"),
    ("/pdb/query/v4/inventory", {"query": '["=","facts.a.\\"b","x"]'}, "dotted"),
    ("/pdb/query/v4/events", {"distinct_resources": "true"}, "requires accompanying parameters"),
    ("/pdb/query/v4/nodes", {"include_facts_expiration": "sometimes"}, "include_facts_expiration"),
    ("/pdb/query/v4/nodes", {"include_total": "maybe"}, "include_total"),
    ("/pdb/query/v4/nodes", {"timeout": "-1"}, "timeout"),
]


@pytest.mark.parametrize(("path", "params", "needle"), BAD)
def test_bad_input_is_a_400_with_a_message(client, fleet_db, path, params, needle):
    r = client.get(path, params)
    assert r.status_code == 400, (r.status_code, r.content)
    text = r.content.decode()
    assert needle.lower() in text.lower()
    for leak in ("SELECT", "psycopg", "Traceback", "inventory_", "syntax error at"):
        assert leak not in text


INJECTIONS = [
    "x' OR '1'='1",
    'x"; DROP TABLE inventory_node; --',
    "%(p0)s",
    "%s",
    "'); SELECT pg_sleep(5); --",
    "\\x00",
    "名前",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_sql_injection_in_every_string_position_is_inert(client, fleet_db, evil):
    queries = [
        ["=", "certname", evil],
        ["~", "certname", evil.replace("(", "\\(").replace(")", "\\)").replace("\\x", "x")],
        ["=", ["fact", evil], evil],
        ["=", f"facts.{evil.replace('.', '_').replace('[', '').replace(']', '')}", evil],
        ["in", "certname", ["array", [evil]]],
        ["=", "catalog_environment", evil],
    ]
    for q in queries:
        r = get(client, "/pdb/query/v4/nodes", query=q)
        assert r.status_code in (200, 400), (q, r.content)
        if r.status_code == 200:
            assert r.json() == []
    for entity, q in [
        ("resources", ["=", ["parameter", evil], evil]),
        ("facts", ["=", "name", evil]),
        ("fact-contents", ["=", "path", [evil, 0]]),
        ("reports", ["=", "hash", evil]),
    ]:
        r = get(client, f"/pdb/query/v4/{entity}", query=q)
        assert r.status_code == 200 and r.json() == []
    r = get(client, "/pdb/query/v4/nodes", order_by=[{"field": evil}])
    assert r.status_code == 400
    r = client.get("/pdb/query/v4", {"query": f"nodes {{ certname = {json.dumps(evil)} }}"})
    assert r.status_code == 200 and r.json() == []
    r = client.get(f"/pdb/query/v4/nodes/{evil.replace('/', '')}")
    assert r.status_code in (404, 400)
    from inventory.models import Node

    assert Node.objects.count() == 12


# ops: the closed policy — no anonymous API and no open network (config/settings/test.py opens loopback).
@override_settings(PUPPETDB_API_ALLOW_ANONYMOUS=False, OPEN_NETWORKS=[])
def test_authentication(client, fleet_db, django_user_model):
    from api.models import ApiToken

    assert client.get("/pdb/query/v4/nodes").status_code == 401
    user = django_user_model.objects.create_user("reader")
    _token, raw = ApiToken.issue(user=user, name="t", scopes=["read"])
    r = client.get("/pdb/query/v4/nodes", HTTP_X_AUTHENTICATION=raw)
    assert r.status_code == 200 and len(r.json()) == 11
    _token, raw_w = ApiToken.issue(user=user, name="w", scopes=["write"])
    assert client.get("/pdb/query/v4/nodes", HTTP_AUTHORIZATION=f"Bearer {raw_w}").status_code == 403
    assert client.get("/pdb/query/v4/nodes", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    client.force_login(user)
    assert client.get("/pdb/query/v4/nodes").status_code == 200
    assert client.get("/status/v1/services/puppetdb-status").status_code == 200
