"""Real PuppetDB clients against a running Stagehand web process holding the fixture fleet:
pypuppetdb 3.2 (every public query method) and puppetboard from PyPI, unmodified."""

import os
from pathlib import Path

import pypuppetdb
import pytest

from tests.support import fleet
from tests.support.stack import running, service_env, start_service

FLEET_NODES = {n[0] for n in fleet.NODES} - fleet.DEACTIVATED


@pytest.fixture(scope="module")
def stagehand(django_db_setup, django_db_blocker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clients")
    with django_db_blocker.unblock():
        fleet.clear()
        fleet.load()
        env = service_env(tmp, PUPPETDB_API_ALLOW_ANONYMOUS="true")
    web = start_service("web", env, tmp / "logs")
    with running(web):
        yield web
    with django_db_blocker.unblock():
        fleet.clear()


@pytest.fixture(scope="module")
def pdb(stagehand):
    port = int(stagehand.url.rsplit(":", 1)[1])
    return pypuppetdb.connect(host="127.0.0.1", port=port, timeout=30)


def test_pypuppetdb_nodes_and_node_objects(pdb):
    nodes = list(pdb.nodes(with_status=True, with_event_numbers=True))
    assert {n.name for n in nodes} == FLEET_NODES
    by_name = {n.name: n for n in nodes}
    assert by_name["cache-01.example.com"].status in ("failed", "unreported")
    assert by_name["cache-01.example.com"].events["failures"] == 1
    node = pdb.node("db-01.example.com")
    assert node.report_environment == "production" and node.facts_timestamp is not None
    assert node.fact("role").value == "db"
    assert {f.name for f in node.facts()} >= {"os", "kernel", "trusted"}
    assert {r.name for r in node.resources(type_="Class")} >= {"Postgresql", "Base"}
    assert node.resource("Package", "postgresql").parameters["ensure"] == "15"
    reports = list(node.reports())
    assert len(reports) == 2 and all(r.metrics for r in reports)
    events = list(reports[0].events())
    assert events and all(e.node == "db-01.example.com" for e in events)
    assert len(list(pdb.nodes(query='["=", "latest_report_status", "failed"]'))) == 2


def test_pypuppetdb_facts_resources_catalogs(pdb):
    assert len(list(pdb.facts("kernel"))) == 11
    assert {f.node for f in pdb.facts("role", "cache")} == {"cache-01.example.com", "cache-02.example.com"}
    assert "osfamily" in pdb.fact_names()
    assert len(list(pdb.factsets(query='["=", "certname", "web-01.example.com"]'))) == 1
    contents = list(pdb.fact_contents(query='["=", "path", ["os", "family"]]'))
    assert len(contents) == 11 and {c["value"] for c in contents} == {"Debian", "RedHat"}
    paths = list(pdb.fact_paths(query='["=", "name", "os"]'))
    assert {tuple(p["path"]) for p in paths} >= {("os", "family"), ("os", "release", "major")}
    assert len(list(pdb.resources("Class", "Apache"))) == 3
    assert len(list(pdb.resources(query='["=", "type", "Nagios_host"]'))) == 6
    cat = pdb.catalog("web-01.example.com")
    assert cat.get_resource("Class", "Apache") is not None and list(cat.get_edges())
    assert {c.node for c in pdb.catalogs(query='["=", "environment", "staging"]')} == {
        "web-03.example.com",
        "db-03.example.com",
        "cache-02.example.com",
    }
    assert len(list(pdb.edges(query='["=", "relationship", "before"]'))) == 3
    assert {e["name"] for e in pdb.environments()} == {"production", "staging", "development"}
    inv = list(pdb.inventory(query='["=", "facts.os.family", "RedHat"]'))
    assert len(inv) == 4 and inv[0].facts["os"]["family"] == "RedHat"


def test_pypuppetdb_reports_events_counts_pql_meta(pdb):
    reps = list(pdb.reports(query='["=", "certname", "cache-01.example.com"]', order_by='[{"field": "end_time"}]'))
    assert [r.status for r in reps] == ["changed", "failed"]
    assert reps[-1].logs and reps[-1].metrics
    events = list(pdb.events(query='["=", "status", "failure"]'))
    assert {e.node for e in events} == {"cache-01.example.com", "web-03.example.com"}
    counts = pdb.event_counts("certname", query='["=", "latest_report?", true]')
    assert {c["subject"]["title"] for c in counts} >= {"cache-01.example.com", "web-03.example.com"}
    agg = pdb.aggregate_event_counts("certname", query='["=", "latest_report?", true]')
    assert agg[0]["failures"] == 2 if isinstance(agg, list) else agg["failures"] == 2
    pql_nodes = list(pdb.pql('nodes { latest_report_status = "failed" }'))
    assert {n.name for n in pql_nodes} == {"cache-01.example.com", "web-03.example.com"}
    rows = list(pdb.pql('facts[certname, value] { name = "role" and value = "lb" }'))
    assert (
        rows[0].node == "lb-01.example.com" if hasattr(rows[0], "node") else rows[0]["certname"] == "lb-01.example.com"
    )
    assert pdb.current_version() >= "5.2.0"
    assert pdb.status()["state"] == "running"
    assert "puppetlabs.puppetdb.population" in pdb.metric()
    assert pdb.metric("puppetlabs.puppetdb.population:name=num-nodes")["Value"] == 11


PAGES = [
    "/",
    "/production/",
    "/%2A/",
    "/nodes",
    "/%2A/nodes",
    "/nodes?status=failed",
    "/node/web-01.example.com",
    "/reports",
    "/reports/json?draw=1&start=0&length=10",
    "/reports/web-01.example.com",
    "/reports/web-01.example.com/json?draw=1&start=0&length=10",
    "/facts",
    "/fact/os",
    "/fact/role/json",
    "/fact/role/db",
    "/fact/role/db/json",
    "/node/web-01.example.com/facts/json",
    "/inventory",
    "/inventory/json",
    "/metrics",
    "/metric/puppetlabs.puppetdb.population:name=num-nodes",
    "/query",
    "/catalogs",
    "/catalogs/json?draw=1&start=0&length=10",
    "/catalog/web-01.example.com",
    "/radiator",
    "/failures",
    "/daily_reports_chart.json",
    "/classes",
    "/classes/json",
    "/class_resource/Apache",
]


@pytest.fixture(scope="module")
def puppetboard(stagehand):
    import puppetboard

    port = stagehand.url.rsplit(":", 1)[1]
    os.environ.update(
        PUPPETBOARD_SETTINGS=str(Path(puppetboard.__file__).parent / "docker_settings.py"),
        PUPPETDB_HOST="127.0.0.1",
        PUPPETDB_PORT=port,
        PUPPETDB_PROTO="http",
        SECRET_KEY="puppetboard-test-secret-key-0123456789",
        ENABLE_CATALOG="true",
        ENABLE_CLASS="true",
        UNRESPONSIVE_HOURS="100000",
    )
    from puppetboard.app import app

    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    return app.test_client()


@pytest.mark.parametrize("page", PAGES)
def test_puppetboard_page(puppetboard, page):
    r = puppetboard.get(page, follow_redirects=True)
    assert r.status_code == 200, (page, r.status_code, r.get_data(as_text=True)[:2000])
    body = r.get_data(as_text=True)
    if page in (
        "/nodes",
        "/%2A/nodes",
        "/inventory/json",
        "/reports/json?draw=1&start=0&length=10",
        "/node/web-01.example.com",
        "/catalog/web-01.example.com",
    ):
        assert "web-01.example.com" in body


def test_puppetboard_shows_the_fleet(puppetboard):
    body = puppetboard.get("/%2A/nodes").get_data(as_text=True)
    assert all(n in body for n in FLEET_NODES)
    body = puppetboard.get("/failures").get_data(as_text=True)
    assert "cache-01.example.com" in body
    r = puppetboard.post("/query", data={"query": 'nodes[certname] { certname ~ "lb" }', "endpoints": "pql"})
    assert r.status_code == 200 and "lb-01.example.com" in r.get_data(as_text=True)
    r = puppetboard.post("/query", data={"query": "nodes[certname] { certname ~ }", "endpoints": "pql"})
    assert r.status_code == 200 and "PQL parse error" in r.get_data(as_text=True)
    body = puppetboard.get("/%2A/radiator").get_data(as_text=True)
    assert ">11<" in body.replace(" ", "").replace("\n", "")
