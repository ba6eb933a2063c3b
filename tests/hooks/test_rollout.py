"""Code rollout across three deployments: nodes per code_id now, since when, run statuses."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.hooks.factory import deactivate, store_catalog, store_report
from tests.hooks.helpers import auth, token

WEB = override_settings(ROOT_URLCONF="config.urls.web")


def run(certname, code_id, when, status="unchanged", environment="production", **kwargs):
    store_catalog(certname, code_id=code_id, environment=environment, when=when)
    store_report(certname, code_id=code_id, environment=environment, producer_timestamp=when, status=status, **kwargs)


@WEB
@pytest.mark.django_db
def test_rollout_counts_across_three_deployments(client):
    now = timezone.now().replace(microsecond=0)
    t1, t2, t3 = now - dt.timedelta(hours=5), now - dt.timedelta(hours=3), now - dt.timedelta(hours=1)
    nodes = [f"n{i}.example" for i in range(1, 7)]
    for i, node in enumerate(nodes):  # deployment 1 reaches everyone
        run(node, "c1", t1 + dt.timedelta(minutes=i))
    for i, node in enumerate(nodes[:4]):  # deployment 2 reaches four, one run fails
        run(node, "c2", t2 + dt.timedelta(minutes=i), status="failed" if node == "n4.example" else "changed")
    run("n1.example", "c3", t3, status="changed")  # deployment 3 reaches two so far
    run("n2.example", "c3", t3 + dt.timedelta(minutes=1), noop=True, noop_pending=True)
    run("s1.example", "c2", t2, environment="staging")  # another environment
    run("gone.example", "c1", t1)
    deactivate("gone.example")  # inactive nodes do not count

    reader = auth(token(("read",)))
    response = client.get("/api/v1/rollout", {"environment": "production"}, **reader)
    assert response.status_code == 200
    body = response.json()
    assert body["environment"] == "production" and body["nodes"] == 6
    assert body["latest_code_id"] == "c3" and body["on_latest"] == 2 and body["percent_on_latest"] == 33.3
    by_code = {entry["code_id"]: entry for entry in body["code_ids"]}
    assert [entry["code_id"] for entry in body["code_ids"]] == ["c3", "c2", "c1"]
    assert {code: entry["nodes"] for code, entry in by_code.items()} == {"c3": 2, "c2": 2, "c1": 2}
    assert by_code["c3"]["status"] == {"changed": 1, "unchanged": 0, "failed": 0, "noop": 1}
    assert by_code["c2"]["status"] == {"changed": 1, "unchanged": 0, "failed": 1, "noop": 0}
    assert by_code["c1"]["status"] == {"changed": 0, "unchanged": 2, "failed": 0, "noop": 0}
    since = {code: dt.datetime.fromisoformat(entry["since"]) for code, entry in by_code.items()}
    assert since == {"c1": t1, "c2": t2, "c3": t3}
    assert dt.datetime.fromisoformat(by_code["c1"]["last_report"]) == t1 + dt.timedelta(minutes=5)

    everything = client.get("/api/v1/rollout", **reader).json()["environments"]
    assert [(e["environment"], e["nodes"], e["latest_code_id"]) for e in everything] == [
        ("production", 6, "c3"),
        ("staging", 1, "c2"),
    ]
    missing = client.get("/api/v1/rollout", {"environment": "nowhere"}, **reader)
    assert missing.status_code == 404 and "nowhere" in missing.json()["error"]
    assert client.get("/api/v1/rollout").status_code in (401, 403)


@pytest.mark.django_db
def test_rollout_progress_page(client, django_assert_max_num_queries):
    from django.contrib.auth.models import Group, User

    now = timezone.now()
    for i in range(3):
        run(f"p{i}.example", "c1", now - dt.timedelta(hours=2))
    run("p0.example", "c2", now - dt.timedelta(hours=1), status="failed")
    run("q0.example", "c9", now, environment="qa")
    user = User.objects.create_user("vera", password="pw")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    assert client.get("/rollout/").status_code == 302  # sign in first
    client.force_login(user)
    with django_assert_max_num_queries(20):
        page = client.get("/rollout/", {"env": "production"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'Newest code <span class="mono">c2</span>: on 1 of 3 nodes (33.3%)' in html
    assert '<progress id="ro-p-1" max="3" value="1">' in html
    assert "Nodes per code_id in production" in html and "qa" not in html.split("</form>")[1]
    everything = client.get("/rollout/").content.decode()
    assert '<h2 id="ro-1">production</h2>' in everything and '<h2 id="ro-2">qa</h2>' in everything
    assert "unknown environment" in client.get("/rollout/", {"env": "nope"}).content.decode()
    assert 'href="/rollout/" aria-current="page"' in html
