"""where_applied() and /api/v1/where-applied over the fixture fleet's catalog history."""

import base64
import datetime as dt

import orjson
import pytest

from inventory.query import QueryError
from inventory.where_applied import where_applied
from tests.support.fleet import BASE


def certs(rows):
    return sorted(r["certname"] for r in rows)


WEB_NOW = ["web-01.example.com", "web-02.example.com", "web-03.example.com"]
WEB_ALL = ["old-01.example.com", *WEB_NOW]


def test_class_now_and_in_the_past(fleet_db):
    now = where_applied(class_name="apache")
    assert certs(now) == WEB_NOW
    row = now[0]
    assert row["catalog"]["valid_to"] is None and row["catalog"]["code_id"] == "code-b1"
    assert row["report"]["status"] == "changed"  # web-01's latest run
    assert {r["certname"]: r["report"]["status"] for r in now}["web-03.example.com"] == "failed"
    past = BASE + dt.timedelta(hours=1)
    assert where_applied(class_name="Apache", at=past) == []
    then = where_applied(class_name="nginx", at=past)
    assert certs(then) == WEB_ALL  # history includes the node deactivated since
    assert all(r["report"]["status"] == "changed" and r["catalog"]["valid_to"] is not None for r in then)
    assert all(r["report"]["producer_timestamp"] < BASE + dt.timedelta(hours=2) for r in then)
    assert where_applied(class_name="nginx") == []


def test_during_range_returns_every_version(fleet_db):
    rows = where_applied(class_name="Role::Web", during=(BASE, BASE + dt.timedelta(days=2)))
    assert certs(rows) == sorted(WEB_ALL * 2)
    assert len({r["catalog"]["id"] for r in rows}) == 8


def test_resource_parameter_code_id_and_environment(fleet_db):
    assert certs(where_applied(resource_type="file", title="/etc/cron.d/backup")) == [
        "cache-01.example.com",
        "cache-02.example.com",
        "mon-01.example.com",
    ]
    assert certs(where_applied(resource_type="Package", title="postgresql", parameter="ensure", value="15")) == [
        "db-01.example.com",
        "db-03.example.com",
    ]
    assert certs(where_applied(resource_type="Service", title="sshd", parameter="enable", value="true")) != []
    assert where_applied(code_id="code-a1") == []
    assert len(where_applied(code_id="code-a1", at=BASE + dt.timedelta(hours=1))) == 7
    assert certs(where_applied(environment="staging")) == [
        "cache-02.example.com",
        "db-03.example.com",
        "web-03.example.com",
    ]
    one = where_applied(class_name="apache")[0]
    assert certs(where_applied(catalog_uuid=one["catalog"]["catalog_uuid"])) == [one["certname"]]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"title": "x"},
        {"value": "1"},
        {"class_name": " "},
        {"class_name": "a", "at": "not-a-time"},
        {"class_name": "a", "at": BASE, "during": (BASE, BASE)},
        {"class_name": "a", "during": ("2026-01-02", "2026-01-01")},
        {"class_name": "a", "limit": 0},
    ],
)
def test_bad_arguments(fleet_db, kwargs):
    with pytest.raises(QueryError):
        where_applied(**kwargs)


def test_http_where_applied(admin_client, fleet_db):
    r = admin_client.get("/api/v1/where-applied", {"class": "apache"})
    assert r.status_code == 200, r.content
    assert certs(r.json()["results"]) == WEB_NOW
    r = admin_client.get(
        "/api/v1/where-applied", {"class": "nginx", "at": (BASE + dt.timedelta(hours=1)).isoformat(), "page_size": "3"}
    )
    body = r.json()
    assert len(body["results"]) == 3 and body["next"]
    r2 = admin_client.get(body["next"])
    assert certs(body["results"] + r2.json()["results"]) == WEB_ALL and r2.json()["next"] is None
    r = admin_client.get("/api/v1/where-applied", {"class": "apache", "format": "csv"})
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/csv")
    lines = r.content.decode().splitlines()
    assert lines[0].startswith("certname,active,catalog.id") and len(lines) == 4
    assert admin_client.get("/api/v1/where-applied", {"bogus": "1"}).status_code == 400
    assert admin_client.get("/api/v1/where-applied").status_code == 400
    assert admin_client.get("/api/v1/where-applied", {"class": "a", "at": "soon"}).status_code == 400
    assert admin_client.get("/api/v1/where-applied", {"class": "a", "cursor": "!!"}).status_code == 400


def test_http_where_applied_pages_both_ways(admin_client, fleet_db):
    params = {"class": "nginx", "at": (BASE + dt.timedelta(hours=1)).isoformat(), "page_size": "1"}
    first = admin_client.get("/api/v1/where-applied", params).json()
    assert first["previous"] is None
    pages, body = [first], first
    while body["next"]:
        body = admin_client.get(body["next"]).json()
        pages.append(body)
    assert [certs(p["results"]) for p in pages] == [[c] for c in WEB_ALL]
    # and back from the last page to the first, through the "previous" links
    back, body = [pages[-1]], pages[-1]
    while body["previous"]:
        body = admin_client.get(body["previous"]).json()
        back.append(body)
    assert [certs(p["results"]) for p in reversed(back)] == [[c] for c in WEB_ALL]
    assert back[-1]["previous"] is None and back[-1]["next"]
    # a page walked to backwards links forward again to the page it came from
    assert admin_client.get(back[-2]["next"]).json()["results"] == pages[2]["results"]
    # past the end: empty, with a link back to the first page
    last = pages[-1]["results"][0]
    token = base64.urlsafe_b64encode(orjson.dumps([last["certname"], last["catalog"]["id"]])).decode()
    beyond = admin_client.get("/api/v1/where-applied", {**params, "cursor": token}).json()
    assert beyond["results"] == [] and beyond["next"] is None
    assert admin_client.get(beyond["previous"]).json()["results"] == first["results"]
    bad = base64.urlsafe_b64encode(orjson.dumps(["a", 1, "sideways"])).decode()
    assert admin_client.get("/api/v1/where-applied", {**params, "cursor": bad}).status_code == 400
