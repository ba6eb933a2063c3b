"""Every UI page renders against a small fleet, shows what it should, and stays within its query
budget (a baseline: an N+1 regression makes the count grow with the rows and fails here)."""

import csv
import datetime as dt
import io
import json

import pytest
from django.utils import timezone

from ingest.models import Command, CommandState
from inventory import fact_stats
from inventory.models import FactDistribution, Node
from reports import rollups
from tests.support import ui_fleet

# Query budgets per page: the measured baseline (session, user and role lookups included).
# Raise one only with a reason; a count that grows with the rows shown is an N+1 regression.
BUDGET = {
    "dashboard": 13,
    "nodes": 7,  # 6, plus one when a query-language search is materialised into node ids
    "node": 9,  # includes the classification panel (groups snapshot + the node's facts)
    "node_facts": 5,
    "node_resources": 9,
    "node_catalogs": 7,
    "node_events": 5,
    "reports": 6,
    "report": 7,
    "facts": 5,
    "fact": 7,
    "where": 9,  # includes the two statements of inventory.where_applied (resource sets, then rows)
    "inbox": 6,
    "command": 4,
}


def _get(client, django_assert_max_num_queries, budget, url, status=200):
    with django_assert_max_num_queries(BUDGET[budget]):
        response = client.get(url)
    assert response.status_code == status, response.content[:2000]
    return response


@pytest.mark.django_db
def test_dashboard(viewer_client, fleet, django_assert_max_num_queries):
    rollups.refresh(timezone.now() - dt.timedelta(days=3), timezone.now())
    Command.objects.create(command="store_report", version=8, certname="web01.example.com", payload=b"{}")
    Command.objects.create(
        command="replace_facts", version=5, certname="x", payload=b"{}", state=CommandState.DEAD, last_error="boom"
    )
    page = _get(viewer_client, django_assert_max_num_queries, "dashboard", "/")
    body = page.content.decode()
    counts = page.context["counts"]
    assert counts["total"] == 7
    assert (counts["failed"], counts["changed"], counts["unchanged"], counts["noop_pending"]) == (1, 1, 2, 1)
    assert (counts["unreported"], counts["deactivated"]) == (1, 1)
    assert 'href="/nodes/?status=failed"' in body
    assert body.count("<svg") >= 3 and "Runs per hour" in body
    assert page.context["series"].total_runs == 30  # 6 runs per reporting node; the stale one is older
    assert page.context["inbox"]["pending"] == 1 and page.context["inbox"]["dead"] == 1
    assert [n.certname for n in page.context["failures"]] == ["web01.example.com"]
    # Scoped to one environment, the same budget.
    staging = _get(viewer_client, django_assert_max_num_queries, "dashboard", "/?env=staging&days=7")
    assert staging.context["counts"]["total"] == 2


@pytest.mark.django_db
def test_dashboard_query_count_does_not_grow_with_failures(viewer_client, fleet, django_assert_max_num_queries):
    now = timezone.now()
    for i in range(15):
        n = ui_fleet.node(f"fail{i:02d}.example.com")
        ui_fleet.report(n, now - dt.timedelta(minutes=i), "failed")
    page = _get(viewer_client, django_assert_max_num_queries, "dashboard", "/")
    assert len(page.context["failures"]) == 10


@pytest.mark.django_db
def test_node_list_filters_sort_and_keyset(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/?status=failed")
    assert [n.certname for n in page.context["rows"]] == ["web01.example.com"]
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/?env=staging&sort=-certname")
    assert [n.certname for n in page.context["rows"]] == ["db02.example.com", "app01.example.com"]
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/?status=deactivated")
    assert [n.certname for n in page.context["rows"]] == ["gone01.example.com"]
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/?q=gone")
    assert page.context["total"] == 0  # inactive nodes are left out unless asked for
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/?q=gone&inactive=1")
    assert [n.certname for n in page.context["rows"]] == ["gone01.example.com"]
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/?q=db0")
    assert {n.certname for n in page.context["rows"]} == {"db01.example.com", "db02.example.com"}
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/?sort=-reported")
    assert page.context["rows"][0].certname == "app01.example.com"  # reported 5 minutes ago
    # Fact filter (GIN containment), as linked from the fact distribution page.
    url = "/nodes/?" + "fact=" + '["os","family"]' + "&value=" + '"RedHat"'
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", url)
    assert [n.certname for n in page.context["rows"]] == ["db02.example.com"]


@pytest.mark.django_db
def test_node_list_keyset_pages_cover_every_node_once(viewer_client, db, django_assert_max_num_queries):
    now = timezone.now()
    for i in range(120):
        n = ui_fleet.node(f"n{i:03d}.example.com")
        if i % 3:
            Node.objects.filter(pk=n.pk).update(
                report_timestamp=now - dt.timedelta(minutes=i % 7), latest_report_status="unchanged"
            )
    for sort in ("certname", "-reported", "reported", "status", "-environment"):
        seen, url = [], f"/nodes/?sort={sort}"
        while url:
            page = _get(viewer_client, django_assert_max_num_queries, "nodes", url)
            seen += [n.certname for n in page.context["rows"]]
            url = page.context["pager"].next_url and "/nodes/" + page.context["pager"].next_url
        assert len(seen) == 120 and len(set(seen)) == 120, sort
    bad = viewer_client.get("/nodes/?after=garbage!")
    assert bad.status_code == 400 and b"cursor is not valid" in bad.content
    # Forged cursors of the wrong shape or type are refused the same way, never a server error.
    from inventory.ui.paging import encode

    for sort, values in (("-reported", ["not a time", "x"]), ("certname", [1, 2]), ("status", [{"a": 1}, []])):
        bad = viewer_client.get(f"/nodes/?sort={sort}&after={encode(values)}")
        assert bad.status_code == 400 and b"cursor" in bad.content, sort
    for url in (
        "/reports/?after=" + encode(["x", "y"]),
        "/inbox/?after=" + encode([1]),
        "/where/?code_id=c&after=" + encode([1]),
    ):
        assert viewer_client.get(url).status_code == 400, url


@pytest.mark.django_db
def test_node_list_csv_export(viewer_client, fleet):
    response = viewer_client.get("/nodes/?env=production&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["certname", "status", "noop_pending"]
    assert [r[0] for r in rows[1:]] == [
        "db01.example.com",
        "old01.example.com",
        "web01.example.com",
        "web02.example.com",
    ]
    assert rows[3][1] == "failed" and rows[3][4].endswith("Z")


@pytest.mark.django_db
def test_node_list_query_language(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", '/nodes/?q=facts.os.family = "RedHat"')
    assert [n.certname for n in page.context["rows"]] == ["db02.example.com"]
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/?q=status = failed")
    assert [n.certname for n in page.context["rows"]] == ["web01.example.com"]
    # PQL and the JSON AST work too.
    page = _get(
        viewer_client,
        django_assert_max_num_queries,
        "nodes",
        '/nodes/?q=nodes[certname] { latest_report_status = "failed" }',
    )
    assert [n.certname for n in page.context["rows"]] == ["web01.example.com"]
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", '/nodes/?q=["~", "certname", "^db"]')
    assert [n.certname for n in page.context["rows"]] == ["db01.example.com", "db02.example.com"]
    # The query and the status/environment filters combine.
    url = '/nodes/?q=facts.os.family = "Debian"&env=staging'
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", url)
    assert [n.certname for n in page.context["rows"]] == ["app01.example.com"]


@pytest.mark.django_db
def test_node_list_query_language_errors_are_shown_inline(viewer_client, fleet):
    response = viewer_client.get("/nodes/", {"q": 'facts.os.family = "Debian" and'})
    assert response.status_code == 400
    assert response.context["errors"]
    assert b'class="query-error"' in response.content


@pytest.mark.django_db
def test_node_overview(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "node", "/nodes/web01.example.com/")
    body = page.content.decode()
    assert len(page.context["strip"]) == 6
    assert page.context["strip"][-1].status == "failed"
    assert "Could not start Service[nginx]" in body
    assert page.context["current"].code_id == "c0ffee2"
    assert viewer_client.get("/nodes/nope.example.com/").status_code == 404


@pytest.mark.django_db
def test_node_facts_tree(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "node_facts", "/nodes/db02.example.com/facts/")
    body = page.content.decode()
    assert 'data-path="os.family = &quot;RedHat&quot;"' in body
    assert "uptime_seconds" in body  # volatile facts are merged in
    assert 'id="fact-filter"' in body


@pytest.mark.django_db
def test_node_resources_filters(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "node_resources", "/nodes/web02.example.com/resources/")
    assert page.context["total"] == 8
    page = _get(
        viewer_client,
        django_assert_max_num_queries,
        "node_resources",
        "/nodes/web02.example.com/resources/?type=Package",
    )
    assert [r.title for r in page.context["rows"]] == ["nginx", "ntp"]
    page = _get(
        viewer_client,
        django_assert_max_num_queries,
        "node_resources",
        "/nodes/web02.example.com/resources/?class=Nginx",
    )
    assert {str(r) for r in page.context["rows"]} == {"Class[Nginx]", "Package[nginx]"}
    page = _get(
        viewer_client, django_assert_max_num_queries, "node_resources", "/nodes/web02.example.com/resources/?tag=motd"
    )
    assert [str(r) for r in page.context["rows"]] == ["File[/etc/motd]"]


@pytest.mark.django_db
def test_node_catalog_history_and_diff(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "node_catalogs", "/nodes/web02.example.com/catalogs/")
    diff = page.context["diff"]
    assert len(page.context["versions"]) == 2
    kinds = {(c.type, c.title): c.kind for c in diff.changes}
    assert kinds == {
        ("Class", "Nginx"): "added",
        ("Package", "nginx"): "added",
        ("Cron", "cleanup"): "removed",
        ("File", "/etc/motd"): "changed",
    }
    motd = next(c for c in diff.changes if c.title == "/etc/motd")
    assert {(p.name, p.kind) for p in motd.params} == {("parameters.content", "changed"), ("parameters.mode", "added")}
    assert diff.unchanged == 5 and len(diff.edges_added) == 1
    body = page.content.decode()
    assert "hello v1" in body and "hello v2" in body
    # Explicit versions, either order.
    old, new = fleet["catalogs"]["web02.example.com"]
    page = _get(
        viewer_client,
        django_assert_max_num_queries,
        "node_catalogs",
        f"/nodes/web02.example.com/catalogs/?from={new.id}&to={old.id}",
    )
    assert page.context["diff"].old.id == old.id
    # Another node's catalog id is refused.
    other = fleet["catalogs"]["db01.example.com"][0]
    page = viewer_client.get(f"/nodes/web02.example.com/catalogs/?from={other.id}&to={new.id}")
    assert page.context["errors"] and page.context["diff"] is None


@pytest.mark.django_db
def test_node_events(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "node_events", "/nodes/web01.example.com/events/")
    assert len(page.context["rows"]) == 2
    page = _get(
        viewer_client, django_assert_max_num_queries, "node_events", "/nodes/web01.example.com/events/?status=failure"
    )
    assert [e.resource_title for e in page.context["rows"]] == ["nginx"]


@pytest.mark.django_db
def test_report_list_filters_and_keyset(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "reports", "/reports/")
    assert len(page.context["rows"]) == 25  # last 24 h: 4 per reporting node + the latest ones
    page = _get(viewer_client, django_assert_max_num_queries, "reports", "/reports/?status=failed")
    assert [r.certname for r in page.context["rows"]] == ["web01.example.com"]
    page = _get(viewer_client, django_assert_max_num_queries, "reports", "/reports/?node=db02.example.com&noop=yes")
    assert len(page.context["rows"]) == 1 and page.context["rows"][0].noop
    # a minute before the oldest report (3 days old): the form's minute precision must not drop it
    since = (timezone.now() - dt.timedelta(days=3, minutes=1)).strftime("%Y-%m-%dT%H:%M")
    seen, url = [], f"/reports/?since={since}"
    while url:
        page = _get(viewer_client, django_assert_max_num_queries, "reports", url)
        seen += [r.id for r in page.context["rows"]]
        url = page.context["pager"].next_url and "/reports/" + page.context["pager"].next_url
    assert len(seen) == len(set(seen)) == 31
    assert viewer_client.get("/reports/?since=yesterday").status_code == 400
    assert viewer_client.get("/reports/?since=2020-01-01").status_code == 400  # range too long


@pytest.mark.django_db
def test_report_page(viewer_client, fleet, django_assert_max_num_queries):
    report = fleet["reports"]["web01.example.com"][-1]
    page = _get(viewer_client, django_assert_max_num_queries, "report", f"/reports/{report.id}/")
    logs = page.context["logs"]
    assert [log["level"] for log in logs] == ["err", "warning", "notice"]
    assert page.context["log_errors"] == 1
    assert [e.status for e in page.context["events"]] == ["failure", "success"]
    assert page.context["timing_chart"] is not None
    assert b"hl-error" in page.content
    assert viewer_client.get("/reports/999999999/").status_code == 404


@pytest.mark.django_db
def test_fact_list_and_distribution(viewer_client, fleet, django_assert_max_num_queries, settings):
    page = _get(viewer_client, django_assert_max_num_queries, "facts", "/facts/")
    names = [n["name"] for n in page.context["names"]]
    assert "os" in names and "networking" in names
    page = _get(viewer_client, django_assert_max_num_queries, "facts", "/facts/?q=release")
    assert {p["label"] for p in page.context["paths"]} == {"os.release", "os.release.major", "os.release.full"}
    url = "/facts/value/?path=" + json.dumps(["os", "family"])
    # First visit: nothing counted yet, a computation is requested and the page says so.
    page = _get(viewer_client, django_assert_max_num_queries, "fact", url)
    assert page.context["computing"] and FactDistribution.objects.filter(path_key='["os", "family"]').exists()
    # A worker computes it (the task body, called here directly).
    fact_stats.compute(["os", "family"])
    page = _get(viewer_client, django_assert_max_num_queries, "fact", url)
    assert [(v["label"], v["count"]) for v in page.context["values"]] == [("Debian", 5), ("RedHat", 1)]
    assert page.context["dist"].nodes == 6  # the deactivated node has no facts; the stale one counts
    assert "/nodes/?fact=" in page.content.decode()
    # Dotted paths work too; a bad path is a 400 naming the problem.
    assert viewer_client.get("/facts/value/?path=os.family").status_code == 200
    bad = viewer_client.get("/facts/value/?path=[1,")
    assert bad.status_code == 400 and b"not a JSON array" in bad.content
    unknown = viewer_client.get("/facts/value/?path=no.such.fact")
    assert unknown.status_code == 404 and b"No node has reported" in unknown.content
    assert not FactDistribution.objects.filter(path_key='["no", "such", "fact"]').exists()


@pytest.mark.django_db
def test_where_applied(viewer_client, fleet, django_assert_max_num_queries):
    page = _get(viewer_client, django_assert_max_num_queries, "where", "/where/?class=nginx")
    assert page.context["total"] == 5
    # As of three days ago... no catalog existed; two days ago minus an hour: still none. 36 h ago: v1 (no nginx).
    at = (timezone.now() - dt.timedelta(hours=36)).strftime("%Y-%m-%dT%H:%M")
    page = _get(viewer_client, django_assert_max_num_queries, "where", f"/where/?class=nginx&at={at}")
    assert page.context["total"] == 0
    page = _get(viewer_client, django_assert_max_num_queries, "where", f"/where/?type=cron&title=cleanup&at={at}")
    assert page.context["total"] == 5
    page = _get(viewer_client, django_assert_max_num_queries, "where", "/where/?type=Cron&title=cleanup")
    assert page.context["total"] == 0
    page = _get(viewer_client, django_assert_max_num_queries, "where", "/where/?code_id=c0ffee2&env=staging")
    assert [r["certname"] for r in page.context["rows"]] == ["app01.example.com", "db02.example.com"]
    # Each row names the report that applied the catalog, linked.
    applied = page.context["rows"][0]
    assert applied["report"]["status"] == "unchanged" and applied["report_id"]
    assert f"/reports/{applied['report_id']}/" in page.content.decode()
    uuid = fleet["catalogs"]["db01.example.com"][1].catalog_uuid
    page = _get(viewer_client, django_assert_max_num_queries, "where", f"/where/?catalog_uuid={uuid}")
    assert [r["certname"] for r in page.context["rows"]] == ["db01.example.com"]
    # "During" a range: every version current at some moment of it (both versions of each node).
    since = (timezone.now() - dt.timedelta(hours=50)).strftime("%Y-%m-%dT%H:%M")
    until = timezone.now().strftime("%Y-%m-%dT%H:%M")
    page = _get(
        viewer_client, django_assert_max_num_queries, "where", f"/where/?code_id=c0ffee1&since={since}&until={until}"
    )
    assert len(page.context["rows"]) == 5 and page.context["total"] is None
    page = _get(
        viewer_client, django_assert_max_num_queries, "where", f"/where/?class=nginx&since={since}&until={until}"
    )
    assert len(page.context["rows"]) == 5
    assert viewer_client.get(f"/where/?class=nginx&since={since}").status_code == 400
    assert viewer_client.get(f"/where/?class=nginx&since={since}&until={until}&at={until}").status_code == 400
    bad = viewer_client.get("/where/?title=x")
    assert bad.status_code == 400 and b"needs" in bad.content
    # A resource type alone is enough (every node with any Cron resource, 36 hours ago).
    page = _get(viewer_client, django_assert_max_num_queries, "where", f"/where/?type=cron&at={at}")
    assert len(page.context["rows"]) == 5 and page.context["total"] is None
    assert viewer_client.get("/where/?class=nginx&at=soon").status_code == 400


def _commands(n_dead=3, n_pending=2):
    ids = []
    for i in range(n_dead):
        ids.append(
            Command.objects.create(
                command="store_report",
                version=8,
                certname=f"n{i}.example.com",
                payload=b'{"a": 1}',
                state=CommandState.DEAD,
                attempts=5,
                last_error=f"ValueError: bad field {i}",
            ).id
        )
    for i in range(n_pending):
        Command.objects.create(command="replace_facts", version=5, certname=f"p{i}.example.com", payload=b"{}")
    Command.objects.create(
        command="replace_facts", version=5, certname="done.example.com", payload=b"{}", state=CommandState.DONE
    )
    return ids


@pytest.mark.django_db
def test_inbox_lists_queued_and_dead(viewer_client, django_assert_max_num_queries):
    _commands()
    page = _get(viewer_client, django_assert_max_num_queries, "inbox", "/inbox/")
    assert len(page.context["rows"]) == 5 and page.context["counts"] == {"pending": 2, "dead": 3}
    assert b"ValueError: bad field 1" in page.content
    assert not page.context["can_replay"] and b'name="ids"' not in page.content
    page = _get(viewer_client, django_assert_max_num_queries, "inbox", "/inbox/?state=dead")
    assert {c.state for c in page.context["rows"]} == {"dead"}
    assert viewer_client.get("/inbox/?state=zombie").status_code == 400


@pytest.mark.django_db
def test_inbox_replay_by_editor(editor_client, django_assert_max_num_queries):
    dead = _commands()
    pending = Command.objects.filter(state=CommandState.PENDING).first()
    page = _get(editor_client, django_assert_max_num_queries, "inbox", "/inbox/?state=dead")
    assert page.context["can_replay"] and b'name="ids"' in page.content
    response = editor_client.post(
        "/inbox/replay/", {"ids": [dead[0], dead[1], pending.id], "back": "/inbox/?state=dead"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/inbox/?state=dead"
    assert b"Replayed 2 commands" in response.content and b"1 selected command was not dead" in response.content
    assert set(Command.objects.filter(id__in=dead[:2]).values_list("state", flat=True)) == {"pending"}
    assert Command.objects.get(id=dead[2]).state == "dead"
    # No selection: a clear message, nothing changed.
    response = editor_client.post("/inbox/replay/", {}, follow=True)
    assert b"Select at least one dead command" in response.content
    # An open redirect is refused.
    response = editor_client.post("/inbox/replay/", {"ids": [dead[2]], "back": "//evil.example/"})
    assert response["Location"] == "/inbox/"


@pytest.mark.django_db
def test_command_page(editor_client, django_assert_max_num_queries):
    dead = _commands(1, 0)
    page = _get(editor_client, django_assert_max_num_queries, "command", f"/inbox/{dead[0]}/")
    assert b"ValueError: bad field 0" in page.content and b"Replay this command" in page.content
    assert b"{&quot;a&quot;: 1}" in page.content


@pytest.mark.django_db
def test_where_applied_keyset_pages(viewer_client, fleet, monkeypatch):
    from inventory.ui import where_views

    monkeypatch.setattr(where_views, "PAGE_SIZE", 2)
    seen, url = [], "/where/?code_id=c0ffee2"
    while url:
        page = viewer_client.get(url)
        assert page.status_code == 200
        seen += [r["certname"] for r in page.context["rows"]]
        url = page.context["pager"].next_url and "/where/" + page.context["pager"].next_url
    assert seen == sorted(seen) and len(seen) == 5 and len(set(seen)) == 5
    assert viewer_client.get("/where/?code_id=c0ffee2&after=bogus").status_code == 400
