"""The native REST API (/api/v1/) over the fixture fleet: filters, keyset pages, CSV, auth, schema."""

import pytest

from api.models import ApiToken


@pytest.fixture
def reader(django_user_model):
    user = django_user_model.objects.create_user("api-reader")
    _token, raw = ApiToken.issue(user=user, name="r", scopes=["read"])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_requires_authentication(client, fleet_db):
    assert client.get("/api/v1/nodes/").status_code in (401, 403)


def test_nodes_filters_query_and_keyset_pages(client, fleet_db, reader):
    r = client.get("/api/v1/nodes/", {"page_size": "5"}, **reader)
    body = r.json()
    assert r.status_code == 200 and len(body["results"]) == 5 and body["next"]
    seen = [n["certname"] for n in body["results"]]
    while body["next"]:
        body = client.get(body["next"], **reader).json()
        seen += [n["certname"] for n in body["results"]]
    assert seen == sorted(seen) and len(seen) == 12
    r = client.get("/api/v1/nodes/", {"status": "failed"}, **reader)
    assert [n["certname"] for n in r.json()["results"]] == ["cache-01.example.com", "web-03.example.com"]
    r = client.get("/api/v1/nodes/", {"query": 'facts.os.family = "Debian" and status = failed'}, **reader)
    assert [n["certname"] for n in r.json()["results"]] == ["cache-01.example.com", "web-03.example.com"]
    r = client.get("/api/v1/nodes/", {"query": "nodes { resources { type = 'Class' and title = 'Redis' } }"}, **reader)
    assert [n["certname"] for n in r.json()["results"]] == ["cache-01.example.com", "cache-02.example.com"]
    r = client.get("/api/v1/nodes/", {"query": "facts.os.family = "}, **reader)
    assert r.status_code == 400 and "query" in r.json()
    assert client.get("/api/v1/nodes/", {"active": "false"}, **reader).json()["results"][0]["certname"] == (
        "old-01.example.com"
    )
    node = client.get("/api/v1/nodes/web-01.example.com/", **reader).json()
    assert node["catalog_environment"] == "production" and node["active"] is True
    facts = client.get("/api/v1/nodes/web-01.example.com/facts/", **reader).json()
    assert facts["facts"]["os"]["family"] == "Debian"


def test_catalog_history_and_diff(client, fleet_db, reader):
    hist = client.get("/api/v1/nodes/web-01.example.com/catalogs/", **reader).json()["results"]
    assert len(hist) == 2 and hist[0]["current"] and not hist[1]["current"]
    diff = client.get(f"/api/v1/catalogs/{hist[0]['id']}/diff/", **reader).json()
    added = {(r["type"], r["title"]) for r in diff["added"]}
    removed = {(r["type"], r["title"]) for r in diff["removed"]}
    assert ("Class", "Apache") in added and ("Class", "Nginx") in removed
    assert ("Package", "apache2") in added and ("Package", "nginx") in removed
    assert diff["edges_added"] and diff["edges_removed"]
    res = client.get(f"/api/v1/catalogs/{hist[0]['id']}/resources/", **reader).json()
    assert any(r["title"] == "Apache" for r in res)
    r = client.get("/api/v1/catalogs/", {"current": "true", "code_id": "code-b1", "environment": "staging"}, **reader)
    assert {c["certname"] for c in r.json()["results"]} == {
        "web-03.example.com",
        "db-03.example.com",
        "cache-02.example.com",
    }
    assert client.get(f"/api/v1/catalogs/{hist[0]['id']}/diff/", {"against": "x"}, **reader).status_code == 400


def test_reports_events_resources_facts_paths_csv(client, fleet_db, reader):
    reps = client.get("/api/v1/reports/", {"certname": "cache-01.example.com"}, **reader).json()["results"]
    assert [r["status"] for r in reps] == ["failed", "changed"]
    detail = client.get(f"/api/v1/reports/{reps[0]['id']}/", **reader).json()
    assert detail["logs"][1]["level"] == "err" and detail["environment"] == "production"
    events = client.get(f"/api/v1/reports/{reps[0]['id']}/events/", **reader).json()
    assert {e["status"] for e in events} == {"success", "failure", "skipped"}
    r = client.get("/api/v1/resource-events/", {"status": "failure"}, **reader).json()["results"]
    assert {e["certname"] for e in r} == {"cache-01.example.com", "web-03.example.com"}
    r = client.get("/api/v1/resources/", {"type": "Class", "certname": "db-01.example.com"}, **reader).json()
    assert {x["title"] for x in r["results"]} == {"Settings", "Main", "Base", "Postgresql", "Role::Db"}
    r = client.get("/api/v1/facts/", {"names": "os,role", "query": "status = failed"}, **reader).json()
    assert [set(f["facts"]) for f in r["results"]] == [{"os", "role"}, {"os", "role"}]
    r = client.get("/api/v1/fact-paths/", {"name": "os", "depth": "1"}, **reader).json()
    assert {tuple(p["path"]) for p in r["results"]} >= {("os", "family"), ("os", "release")}
    r = client.get("/api/v1/nodes/", {"format": "csv", "status": "failed"}, **reader)
    lines = r.content.decode().splitlines()
    assert r["Content-Type"].startswith("text/csv") and lines[0].startswith("id,certname,active")
    assert len(lines) == 3
    assert client.get("/api/v1/environments/", **reader).json()["results"][0]["name"] == "development"


def test_schema_and_docs_are_served_locally(client, fleet_db, reader, admin_client):
    r = admin_client.get("/api/schema/")
    assert r.status_code == 200 and b"/api/v1/where-applied" in r.content and b"/api/v1/nodes/" in r.content
    r = admin_client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower() and "https://" not in html
