"""Run completion, evaluated in-process (no waiting): done/pending, statuses, failures, input errors."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.hooks.factory import store_report
from tests.hooks.helpers import auth, token

WEB = override_settings(ROOT_URLCONF="config.urls.web")


@pytest.fixture
def reader(db):
    return auth(token(("read",)))


@WEB
@pytest.mark.django_db
def test_done_pending_and_statuses(client, reader):
    before = timezone.now() - dt.timedelta(minutes=5)
    store_report("old.example", status="changed", producer_timestamp=before - dt.timedelta(hours=1))
    store_report("ok.example", status="changed", code_id="v2")
    store_report("same.example", status="unchanged", code_id="v2")
    store_report("noop.example", status="unchanged", code_id="v2", noop=True, noop_pending=True)
    bad_report = store_report(
        "bad.example",
        status="failed",
        code_id="v2",
        failures=[("Package", "nginx", "Execution of '/usr/bin/apt-get' returned 100")],
        error_logs=["Could not find dependency Service[nginx]"],
    )
    store_report("stale.example", status="unchanged", code_id="v1")
    body = {
        "certnames": [
            "old.example",
            "ok.example",
            "same.example",
            "noop.example",
            "bad.example",
            "stale.example",
            "new.example",
        ],
        "reported_after": before.isoformat(),
        "code_id": "v2",
        "timeout": 0,
    }
    response = client.post("/api/v1/runs/wait", body, content_type="application/json", **reader)
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["outcome"] == "failed" and result["complete"] is False
    statuses = {item["certname"]: item["status"] for item in result["done"]}
    assert statuses == {
        "ok.example": "changed",
        "same.example": "unchanged",
        "noop.example": "noop",
        "bad.example": "failed",
    }
    bad = next(item for item in result["done"] if item["certname"] == "bad.example")
    assert bad["failed_resources"][0]["resource"] == "Package[nginx]"
    assert "returned 100" in bad["failed_resources"][0]["message"]
    assert bad["errors"][0]["message"] == "Could not find dependency Service[nginx]"
    assert bad["report_url"].startswith("/pdb/query/v4/reports?query=")
    assert bad["report_page"] == f"/reports/{bad_report.id}/"
    pending = {item["certname"]: item["reason"] for item in result["pending"]}
    assert pending == {
        "old.example": "no report after reported_after",
        "stale.example": "latest report has code_id 'v1'",
        "new.example": "unknown node (no data yet)",
    }
    assert result["summary"] == {
        "selected": 7,
        "done": 4,
        "pending": 3,
        "changed": 1,
        "unchanged": 1,
        "failed": 1,
        "noop": 1,
    }


@WEB
@pytest.mark.django_db
def test_get_form_and_environment_selection(client, reader):
    before = timezone.now() - dt.timedelta(minutes=1)
    store_report("a.example", environment="staging", status="changed")
    store_report("b.example", environment="staging", status="unchanged")
    store_report("c.example", environment="production", status="failed")
    response = client.get(
        "/api/v1/runs/wait", {"environment": "staging", "reported_after": before.isoformat()}, **reader
    )
    assert response.status_code == 200
    result = response.json()
    assert result["outcome"] == "succeeded" and result["complete"] and not result["timed_out"]
    assert [item["certname"] for item in result["done"]] == ["a.example", "b.example"]
    response = client.get(
        "/api/v1/runs/wait", {"certname": "a.example,c.example", "reported_after": before.isoformat()}, **reader
    )
    assert response.json()["outcome"] == "failed"
    problems = client.get(
        "/api/v1/runs/wait",
        {"certname": "a.example,c.example", "reported_after": before.isoformat(), "details": "problems"},
        **reader,
    ).json()
    assert [d["certname"] for d in problems["done"]] == ["c.example"]
    assert problems["summary"]["done"] == 2 and problems["summary"]["changed"] == 1


@WEB
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reported_after": "2026-01-01T00:00:00Z"}, "nodes"),
        ({"certnames": ["a"]}, "condition"),
        ({"certnames": ["a"], "reported_after": "yesterday"}, "reported_after"),
        ({"certnames": ["a"], "reported_after": "2026-01-01T00:00:00"}, "reported_after"),
        ({"certnames": ["a"], "code_id": "x", "timeout": "soon"}, "timeout"),
        ({"certnames": ["a"], "code_id": "x", "timeout": -1}, "timeout"),
        ({"certnames": ["a"], "code_id": "x", "colour": "red"}, "colour"),
        ({"certnames": "a", "code_id": 5}, "code_id"),
        ({"environment": "nowhere", "code_id": "x"}, "nodes"),
        ({"certnames": ["a"], "code_id": "x", "details": "some"}, "details"),
    ],
)
def test_bad_requests_are_400_naming_the_field(client, reader, body, field):
    response = client.post("/api/v1/runs/wait", body, content_type="application/json", **reader)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field


@WEB
@pytest.mark.django_db
def test_wait_needs_read_scope(client):
    body = {"certnames": ["a"], "code_id": "x", "timeout": 0}
    assert client.post("/api/v1/runs/wait", body, content_type="application/json").status_code in (401, 403)
    writer = auth(token(("write",), username="writer"))
    response = client.post("/api/v1/runs/wait", body, content_type="application/json", **writer)
    assert response.status_code == 403


@WEB
@pytest.mark.django_db
def test_selection_by_node_query_and_classification_group(client, reader):
    from enc import service
    from enc.models import ROOT_ID

    before = timezone.now() - dt.timedelta(minutes=1)
    for name in ("web1", "web2", "db1"):
        store_report(f"{name}.example", status="changed", environment="production")
    service.create_group({"name": "webservers", "parent": str(ROOT_ID), "rule": ["~", "name", "^web"]}, actor="test")
    common = {"reported_after": before.isoformat(), "timeout": 0}
    pql = client.post(
        "/api/v1/runs/wait",
        {**common, "query": 'nodes[certname] { certname ~ "^web" }'},
        content_type="application/json",
        **reader,
    ).json()
    assert [d["certname"] for d in pql["done"]] == ["web1.example", "web2.example"]
    ast = client.post(
        "/api/v1/runs/wait",
        {**common, "query": ["=", "certname", "db1.example"]},
        content_type="application/json",
        **reader,
    ).json()
    assert [d["certname"] for d in ast["done"]] == ["db1.example"]
    group = client.post(
        "/api/v1/runs/wait", {**common, "group": "webservers"}, content_type="application/json", **reader
    ).json()
    assert [d["certname"] for d in group["done"]] == ["web1.example", "web2.example"]
    narrowed = client.get(
        "/api/v1/runs/wait", {**common, "group": "webservers", "certname": "web2.example,db1.example"}, **reader
    ).json()
    assert [d["certname"] for d in narrowed["done"]] == ["web2.example"]
    for body, field in [
        ({**common, "query": '["=", "certname"'}, "query"),
        ({**common, "query": ["bogus-op", "certname", "x"]}, "query"),
        ({**common, "group": "no-such-group"}, "group"),
    ]:
        response = client.post("/api/v1/runs/wait", body, content_type="application/json", **reader)
        assert response.status_code == 400 and response.json()["field"] == field, response.content
