"""PuppetDB 7 query options and experimental entities over the fixture fleet (real PostgreSQL):
``distinct_resources``, ``include_facts_expiration``, ``catalog-inputs`` /
``catalog-input-contents``, ``pretty``, ``origin`` and ``explain=analyze``.

Expected answers are the ones a real PuppetDB 7.12 gave for the same commands
(``tests/support/fleet.py``; the corpus records them too)."""

import json
import logging

import pytest
from django.test import override_settings

from tests.support import fleet

V4 = "/pdb/query/v4"
WINDOW = {
    "distinct_resources": "true",
    "distinct_start_time": "2026-11-19T00:00:00Z",
    "distinct_end_time": "2026-11-23T00:00:00.000Z",
}


def get(client, path, **params):
    for k, v in list(params.items()):
        if not isinstance(v, str):
            params[k] = json.dumps(v)
    return client.get(path if path.startswith("/") else f"{V4}/{path}", params)


def events(rows):
    return sorted((e["certname"], e["resource_type"], e["resource_title"], e["timestamp"]) for e in rows)


# --- distinct_resources ----------------------------------------------------------------------


def test_distinct_resources_keeps_only_the_latest_event_per_resource(client, fleet_db):
    everything = get(client, "events", query=["=", "certname", "web-03.example.com"]).json()
    assert len(everything) == 4  # File[/etc/motd] changed on both days
    r = get(client, "events", query=["=", "certname", "web-03.example.com"], **WINDOW)
    assert r.status_code == 200, r.content
    assert events(r.json()) == [
        ("web-03.example.com", "File", "/etc/motd", "2026-11-21T12:02:12.000Z"),
        ("web-03.example.com", "Service", "apache2", "2026-11-21T12:02:13.000Z"),
        ("web-03.example.com", "Service", "nginx", "2026-11-20T12:02:13.000Z"),
    ]
    assert len(get(client, "events", **WINDOW).json()) == 21  # of 28
    # The window bounds which events compete: only the first day's.
    first_day = dict(WINDOW, distinct_end_time="2026-11-20T23:59:59Z")
    rows = get(client, "events", query=["=", "certname", "web-03.example.com"], **first_day).json()
    assert {e["timestamp"][:10] for e in rows} == {"2026-11-20"} and len(rows) == 2
    # The query filters the latest events (not the events the latest are chosen from).
    rows = get(client, "events", query=["=", "status", "failure"], **WINDOW).json()
    assert sorted((e["certname"], e["resource_title"]) for e in rows) == [
        ("cache-01.example.com", "openssh-server"),
        ("web-03.example.com", "apache2"),
    ]
    # distinct_resources=false: the (valid) window is ignored.
    assert len(get(client, "events", **dict(WINDOW, distinct_resources="false")).json()) == 28


def test_distinct_resources_with_latest_report_is_puppetdbs(client, fleet_db):
    # A bare latest_report? also restricts the events the latest are chosen from...
    assert len(get(client, "events", query=["=", "latest_report?", True], **WINDOW).json()) == 12
    assert len(get(client, "events", query=["=", "latest_report?", False], **WINDOW).json()) == 16
    first_day = dict(WINDOW, distinct_end_time="2026-11-21T00:00:00Z")
    assert get(client, "events", query=["=", "latest_report?", True], **first_day).json() == []


def test_distinct_resources_on_sub_routes_and_counts(client, fleet_db):
    rows = get(client, "environments/staging/events", **WINDOW).json()
    assert {e["environment"] for e in rows} == {"staging"} and len(rows) == 5
    report = get(client, "reports", query=["=", "certname", "web-03.example.com"]).json()[0]["hash"]
    assert len(get(client, f"reports/{report}/events", **WINDOW).json()) >= 1

    r = get(client, "event-counts", summarize_by="certname", order_by=[{"field": "successes"}], **WINDOW)
    counts = {c["subject"]["title"]: c for c in r.json()}
    assert len(counts) == 12
    assert {k: counts["web-03.example.com"][k] for k in ("successes", "failures", "skips", "noops")} == {
        "successes": 2,
        "failures": 1,
        "skips": 0,
        "noops": 0,
    }
    assert counts["web-01.example.com"]["successes"] == 3 and counts["lb-01.example.com"]["noops"] == 1
    plain = {c["subject"]["title"]: c for c in get(client, "event-counts", summarize_by="certname").json()}
    assert plain["web-03.example.com"]["successes"] == 3  # motd counted twice without distinct

    r = get(client, "aggregate-event-counts", summarize_by="certname,resource", **WINDOW)
    assert r.status_code == 200, r.content
    assert {a["summarize_by"]: a for a in r.json()} == {
        "certname": {"summarize_by": "certname", "successes": 11, "failures": 2, "noops": 1, "skips": 1, "total": 12},
        "resource": {"summarize_by": "resource", "successes": 3, "failures": 2, "noops": 1, "skips": 1, "total": 5},
    }


DISTINCT_ERRORS = [
    ({"distinct_resources": "true"}, "'distinct_resources' query parameter requires accompanying parameters"),
    (
        {"distinct_resources": "true", "distinct_start_time": "2026-11-19T00:00:00Z"},
        "requires accompanying parameters 'distinct_start_time' and 'distinct_end_time'",
    ),
    (
        {"distinct_start_time": "2026-11-19T00:00:00Z", "distinct_end_time": "2026-11-23T00:00:00Z"},
        "'distinct_resources' query parameter must accompany parameters",
    ),
    (dict(WINDOW, distinct_start_time="last tuesday"), "must be valid datetime strings: last tuesday"),
    (dict(WINDOW, distinct_end_time=""), "must be valid datetime strings"),
    (dict(WINDOW, distinct_resources="maybe"), "'distinct_resources' must be true or false"),
]


@pytest.mark.parametrize(("params", "message"), DISTINCT_ERRORS)
@pytest.mark.parametrize("path", ["events", "event-counts", "aggregate-event-counts"])
def test_distinct_resources_bad_input(client, fleet_db, path, params, message):
    extra = {"summarize_by": "certname"} if "counts" in path else {}
    r = get(client, path, **params, **extra)
    assert r.status_code == 400 and message in r.content.decode(), r.content


def test_distinct_parameters_only_where_puppetdb_takes_them(client, fleet_db):
    for path in ("nodes", "reports", "facts"):
        r = get(client, path, **WINDOW)
        assert r.status_code == 400 and "Unsupported query parameter 'distinct_" in r.content.decode()
    # POST bodies carry them too (a JSON boolean included).
    r = client.post(
        f"{V4}/events",
        {"query": ["=", "certname", "web-03.example.com"], **WINDOW, "distinct_resources": True},
        content_type="application/json",
    )
    assert r.status_code == 200 and len(r.json()) == 3


# --- include_facts_expiration ------------------------------------------------------------------


def test_include_facts_expiration_adds_the_two_fields_with_puppetdbs_defaults(client, fleet_db):
    plain = get(client, "nodes").json()
    assert all("expires_facts" not in n for n in plain)
    r = get(client, "nodes", include_facts_expiration="true", order_by=[{"field": "certname"}])
    rows = {n["certname"]: n for n in r.json()}
    assert len(rows) == 11
    assert (rows["build-01.example.com"]["expires_facts"], rows["build-01.example.com"]["expires_facts_updated"]) == (
        False,
        "2026-11-21T14:10:00.000Z",
    )
    assert (rows["mon-01.example.com"]["expires_facts"], rows["mon-01.example.com"]["expires_facts_updated"]) == (
        True,
        "2026-11-21T14:08:00.000Z",
    )
    # Never configured: PuppetDB's defaults.
    assert (rows["web-01.example.com"]["expires_facts"], rows["web-01.example.com"]["expires_facts_updated"]) == (
        True,
        None,
    )
    assert set(rows["web-01.example.com"]) == set(plain[0]) | {"expires_facts", "expires_facts_updated"}


def test_include_facts_expiration_everywhere_nodes_are_answered(client, fleet_db):
    node = get(client, "nodes/build-01.example.com", include_facts_expiration="true").json()
    assert node["expires_facts"] is False
    r = get(client, "nodes", query=["=", "expires_facts", False], include_facts_expiration="true")
    assert [n["certname"] for n in r.json()] == ["build-01.example.com"]
    r = get(
        client,
        "nodes",
        include_facts_expiration="true",
        order_by=[{"field": "expires_facts_updated"}],
        limit=2,
    )
    assert [n["certname"] for n in r.json()] == ["mon-01.example.com", "build-01.example.com"]
    r = client.get(
        V4,
        {"query": "nodes[certname, expires_facts] { expires_facts = false }", "include_facts_expiration": "true"},
    )
    assert r.json() == [{"certname": "build-01.example.com", "expires_facts": False}]
    r = get(client, V4, query=["from", "nodes", ["=", "certname", "mon-01.example.com"]], include_facts_expiration=True)
    assert r.json()[0]["expires_facts_updated"] == "2026-11-21T14:08:00.000Z"
    # Other entities accept the flag (a global parameter) and are unchanged by it.
    assert get(client, "facts/role", include_facts_expiration="true").json() == get(client, "facts/role").json()


# --- catalog inputs ---------------------------------------------------------------------------


def test_catalog_inputs_entity(client, fleet_db):
    r = get(client, "catalog-inputs", order_by=[{"field": "certname"}], include_total="true")
    assert r.status_code == 200, r.content
    assert r["X-Records"] == "2"  # old-01 is deactivated: active nodes only, as PuppetDB
    db, web = r.json()
    assert db == {
        "certname": "db-01.example.com",
        "producer_timestamp": "2026-11-21T12:03:06.000Z",
        "catalog_uuid": fleet._uuid("db-01.example.com", "catalog", 1),
        "inputs": [["hiera", "ntp::servers"], ["hiera", "postgresql::version"]],
    }
    assert web["inputs"] == sorted(fleet.CATALOG_INPUTS["web-01.example.com"])

    def certs(**params):
        rr = get(client, "catalog-inputs", **params)
        assert rr.status_code == 200, rr.content
        return sorted(x["certname"] for x in rr.json())

    # inputs is PuppetDB's array of the pairs' strings: = and ~ match any element.
    assert certs(query=["=", "inputs", "apache::port"]) == ["web-01.example.com"]
    assert certs(query=["=", "inputs", "hiera"]) == ["db-01.example.com", "web-01.example.com"]
    assert certs(query=["~", "inputs", "^postgresql::"]) == ["db-01.example.com"]
    assert certs(query=[">", "producer_timestamp", "2026-11-21T12:01:00Z"]) == ["db-01.example.com"]
    assert certs(query=["=", "catalog_uuid", fleet._uuid("web-01.example.com", "catalog", 1)]) == ["web-01.example.com"]
    assert certs(query=["=", "node_state", "any"]) == ["db-01.example.com", "old-01.example.com", "web-01.example.com"]
    assert certs(order_by=[{"field": "producer_timestamp", "order": "desc"}], limit=1) == ["db-01.example.com"]
    r = get(
        client,
        "catalog-inputs",
        query=["extract", ["certname", "catalog_uuid"], ["=", "certname", "db-01.example.com"]],
    )
    assert r.json() == [{"certname": "db-01.example.com", "catalog_uuid": db["catalog_uuid"]}]


def test_catalog_inputs_from_the_root_pql_and_subqueries(client, fleet_db):
    r = client.get(V4, {"query": "catalog_inputs[certname] { inputs = 'ntp::servers' order by certname }"})
    assert r.json() == [{"certname": "db-01.example.com"}, {"certname": "web-01.example.com"}]
    r = client.get(V4, {"query": "catalog_input_contents[certname, name] { type = 'hiera' and name ~ 'apache' }"})
    assert r.json() == [{"certname": "web-01.example.com", "name": "apache::port"}]
    r = get(client, "nodes", query=["in", "certname", ["from", "catalog_inputs", ["extract", ["certname"]]]])
    assert sorted(n["certname"] for n in r.json()) == ["db-01.example.com", "web-01.example.com"]


def test_catalog_input_contents_entity(client, fleet_db):
    rows = get(client, "catalog-input-contents", query=["=", "name", "ntp::servers"]).json()
    assert sorted(x["certname"] for x in rows) == ["db-01.example.com", "web-01.example.com"]
    assert set(rows[0]) == {"certname", "producer_timestamp", "catalog_uuid", "type", "name"}
    assert len(get(client, "catalog-input-contents").json()) == 5


@pytest.mark.parametrize(
    ("path", "query", "needle"),
    [
        ("catalog-inputs", ["=", "inputs", 5], "string"),
        ("catalog-inputs", ["=", "colour", "x"], "colour"),
        ("catalog-inputs", ["<", "inputs", "x"], "inputs"),
        ("catalog-inputs", ["=", "producer_timestamp", "soon"], "timestamp"),
        ("catalog-input-contents", ["~", "name", "(unclosed"], "regular expression"),
    ],
)
def test_catalog_inputs_bad_queries(client, fleet_db, path, query, needle):
    r = get(client, path, query=query)
    assert r.status_code == 400 and needle in r.content.decode(), r.content


# --- pretty, origin, explain -------------------------------------------------------------------


def test_pretty_prints_the_same_json(client, fleet_db):
    compact = get(client, "nodes", limit=2)
    pretty = get(client, "nodes", limit=2, pretty="true")
    assert pretty.status_code == 200 and pretty.json() == compact.json()
    assert b"\n" not in compact.content and pretty.content.startswith(b'[\n  {\n    "')
    single = get(client, "nodes/web-01.example.com", pretty="true")
    assert single.content.startswith(b'{\n  "') and single.json()["certname"] == "web-01.example.com"
    counts = get(client, "event-counts", summarize_by="certname", pretty="true")
    assert b"\n" in counts.content
    # PuppetDB's aggregate-event-counts takes no pretty (nor paging) parameter.
    r = get(client, "aggregate-event-counts", summarize_by="certname", pretty="true")
    assert r.status_code == 400 and "Unsupported query parameter 'pretty'" in r.content.decode()
    assert get(client, "nodes", pretty="very").status_code == 400


def test_origin_is_accepted_and_logged_with_the_request(client, fleet_db, caplog):
    with caplog.at_level(logging.INFO, "stagehand.request"):
        r = get(client, "nodes", origin="puppetboard-dashboard", limit=1)
        bad = client.post(f"{V4}/nodes", {"origin": 7}, content_type="application/json")
    assert r.status_code == 200
    records = [x for x in caplog.records if x.name == "stagehand.request"]
    assert records[0].origin == "puppetboard-dashboard" and records[0].status == 200
    assert bad.status_code == 400 and "'origin' must be a string" in bad.content.decode()


def test_explain_analyze_returns_puppetdbs_shape(client, fleet_db):
    r = get(client, "nodes", query=["=", "certname", "web-01.example.com"], explain="analyze", include_total="true")
    assert r.status_code == 200, r.content
    (row,) = r.json()
    assert list(row) == ["query plan"]
    (plan,) = row["query plan"]
    assert plan["Plan"]["Actual Rows"] == 1 and "Execution Time" in plan and "Output" in plan["Plan"]
    assert r["X-Records"] == "1"
    for path, params in [
        ("nodes/web-01.example.com", {}),
        ("event-counts", {"summarize_by": "certname"}),
        ("events", WINDOW),
        ("catalog-inputs", {}),
    ]:
        rr = get(client, path, explain="analyze", **params)
        assert rr.status_code == 200, (path, rr.content)
        body = rr.json()
        first = body if isinstance(body, dict) else body[0]
        assert "Plan" in first["query plan"][0]
    rr = client.get(V4, {"query": "nodes[certname] { certname ~ 'web' }", "explain": "analyze"})
    assert rr.json()[0]["query plan"][0]["Plan"]["Actual Rows"] == 3


@pytest.mark.parametrize("value", ["yes", "", "ANALYZE"])
def test_explain_only_takes_analyze(client, fleet_db, value):
    r = get(client, "nodes", explain=value)
    assert r.status_code == 400 and f"Illegal value '{value}' for :explain" in r.content.decode()


@override_settings(PUPPETDB_API_ALLOW_ANONYMOUS=False, OPEN_NETWORKS=[])
def test_explain_needs_a_reader(client, fleet_db):
    assert get(client, "nodes", explain="analyze").status_code == 401
