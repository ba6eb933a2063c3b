"""The shared keyset pager (inventory/ui/paging.py) on every paged list: forward to the end and back
to the start give the same pages, sorting by any column with ties and NULLs, both ends, shared
links that keep every filter, accessible markup, bad cursors refused with a 400 — within each
page's query budget."""

import datetime as dt
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from api import tokens
from enc.models import AuditEntry
from ingest.models import Command
from inventory.models import Node
from inventory.ui import paging
from tests.support import ui_fleet
from tests.ui.test_pages import BUDGET

BUDGET = {**BUDGET, "audit": 6, "tokens": 6}
CURSORS = ("after", "before")


def _filters(url: str) -> dict:
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    return {k: v for k, v in query.items() if k not in CURSORS}


def _get(client, assert_max, budget, url, status=200):
    with assert_max(BUDGET[budget]):
        response = client.get(url)
    assert response.status_code == status, response.content[:2000]
    return response


def walk(client, assert_max, budget, path, query, key):
    """Follow "next" from the first page to the last, then "previous" back to the first; both
    walks must see the same pages. Every link keeps the filters of ``query``. Returns the pages."""
    filters = _filters("?" + query)
    url, pages, pager = f"{path}?{query}", [], None
    while url:
        page = _get(client, assert_max, budget, url)
        pager = page.context["pager"]
        pages.append([key(row) for row in page.context["rows"]])
        if len(pages) == 1:
            assert pager.first_url is None and pager.prev_url is None, "the first page has no way back"
        else:
            assert pager.prev_url and pager.first_url, "a later page links back"
            assert _filters(pager.first_url) == filters and not set(CURSORS) & set(parse_qs(pager.first_url[1:]))
        for link in (pager.next_url, pager.prev_url):
            if link:
                assert _filters(link) == filters, link
                assert len(set(CURSORS) & set(parse_qs(link[1:]))) == 1, link
        url = pager.next_url and path + pager.next_url
    back = [pages[-1]]
    while pager.prev_url:
        page = _get(client, assert_max, budget, path + pager.prev_url)
        pager = page.context["pager"]
        back.append([key(row) for row in page.context["rows"]])
        assert pager.next_url, "a page before another links forward"
    assert pager.first_url is None, "walking back ends on the first page"
    back.reverse()
    assert back == pages
    return pages


def _flat(pages):
    return [item for page in pages for item in page]


def _tied_nodes(now):
    """23 active nodes: report times in four tied groups plus never-reported ones, three statuses
    (and none), two environments (and none); one deactivated node that must never show."""
    prod, staging = ui_fleet.env("production"), ui_fleet.env("staging")
    nodes = []
    for i in range(23):
        n = ui_fleet.node(f"n{(i * 7) % 23:02d}.example.com")
        fields = {}
        if i % 5:
            fields["report_timestamp"] = now - dt.timedelta(minutes=i % 4)
            fields["latest_report_status"] = ("unchanged", "changed", "failed")[i % 3]
            fields["report_environment"] = prod if i % 2 else staging
        Node.objects.filter(pk=n.pk).update(**fields)
        nodes.append(n)
    gone = ui_fleet.node("gone.example.com")
    Node.objects.filter(pk=gone.pk).update(deactivated=now)
    return list(Node.objects.filter(deactivated__isnull=True).select_related("report_environment"))


def _expected(nodes, sort_key):
    """The order each sort promises, computed here without SQL: NULLs last ascending (first
    descending), except last report, where never-reported nodes count as oldest."""
    desc = sort_key.startswith("-")
    field = sort_key.lstrip("-")
    value = {
        "certname": lambda n: n.certname,
        "reported": lambda n: n.report_timestamp,
        "status": lambda n: n.latest_report_status,
        "environment": lambda n: n.report_environment.name if n.report_environment else None,
    }[field]
    nulls_small = field == "reported"

    def key(n):
        v = value(n)
        null_rank = (0 if nulls_small else 1) if v is None else (1 if nulls_small else 0)
        return (null_rank, v if v is not None else "", n.certname)

    ordered = sorted(nodes, key=key)
    return [n.certname for n in (reversed(ordered) if desc else ordered)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sort_key",
    ["certname", "-certname", "reported", "-reported", "status", "-status", "environment", "-environment"],
)
def test_node_list_pages_both_ways_for_every_sort(viewer_client, django_assert_max_num_queries, monkeypatch, sort_key):
    from inventory.ui import views

    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    nodes = _tied_nodes(timezone.now())
    pages = walk(
        viewer_client, django_assert_max_num_queries, "nodes", "/nodes/", f"sort={sort_key}", lambda n: n.certname
    )
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert _flat(pages) == _expected(nodes, sort_key)


@pytest.mark.django_db
def test_node_list_paging_keeps_filters(viewer_client, django_assert_max_num_queries, monkeypatch):
    from inventory.ui import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    nodes = _tied_nodes(timezone.now())
    query = "env=production&status=unchanged&q=example&sort=-reported"
    pages = walk(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/", query, lambda n: n.certname)
    wanted = [
        n
        for n in nodes
        if n.report_environment and n.report_environment.name == "production" and n.latest_report_status == "unchanged"
    ]
    assert len(pages) > 1 and sorted(_flat(pages)) == sorted(n.certname for n in wanted)
    # Sorting by another column starts from the first page, filters kept.
    page = viewer_client.get("/nodes/" + viewer_client.get("/nodes/?" + query).context["pager"].next_url)
    for header in page.context["headers"]:
        assert "after=" not in header["href"] and "before=" not in header["href"]
        assert "env=production" in header["href"] and "status=unchanged" in header["href"]


@pytest.mark.django_db
def test_nodes_behind_a_fact_value_page_both_ways(viewer_client, fleet, django_assert_max_num_queries, monkeypatch):
    from inventory.ui import views

    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    query = 'fact=["os","family"]&value="Debian"&sort=-certname'  # as linked from the fact page
    pages = walk(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/", query, lambda n: n.certname)
    # The active Debian nodes of the small fleet (db02 is RedHat, gone01 deactivated).
    debian = ["web02.example.com", "web01.example.com", "old01.example.com", "db01.example.com", "app01.example.com"]
    assert pages == [debian[:3], debian[3:]]


@pytest.mark.django_db
def test_node_list_pager_ends_and_stale_cursors(viewer_client, django_assert_max_num_queries, monkeypatch):
    from inventory.ui import views

    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    _tied_nodes(timezone.now())
    first = _get(viewer_client, django_assert_max_num_queries, "nodes", "/nodes/")
    names = [n.certname for n in first.context["rows"]]
    sort = views.NODE_SORTS["certname"]
    # "Before" the second row: less than a page lies before it, so the whole first page is shown.
    page = _get(
        viewer_client,
        django_assert_max_num_queries,
        "nodes",
        f"/nodes/?before={sort.cursor_for(first.context['rows'][1])}",
    )
    assert [n.certname for n in page.context["rows"]] == names
    assert page.context["pager"].first_url is None and page.context["pager"].prev_url is None
    assert page.context["pager"].next_url == first.context["pager"].next_url
    # Before the very first row: nothing before it, again the first page.
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", f"/nodes/?before={paging.encode(['a'])}")
    assert [n.certname for n in page.context["rows"]] == names
    # After the last node (it was the end, or nodes were removed since): an empty page that offers
    # the first page, no previous, no next.
    page = _get(viewer_client, django_assert_max_num_queries, "nodes", f"/nodes/?after={paging.encode(['zzz'])}")
    pager = page.context["pager"]
    assert page.context["rows"] == [] and pager.first_url == "?" and pager.prev_url is None and pager.next_url is None
    # A made-up cursor either way is a 400 naming the problem.
    for cursor in ("before=garbage!", "before=" + paging.encode([1, 2]), "after=" + paging.encode([{"x": 1}])):
        bad = viewer_client.get(f"/nodes/?{cursor}")
        assert bad.status_code == 400 and b"page cursor" in bad.content, cursor
        assert bad.context["pager"].first_url is not None


@pytest.mark.django_db
def test_pager_markup(viewer_client, monkeypatch):
    from inventory.ui import views

    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    _tied_nodes(timezone.now())
    first = viewer_client.get("/nodes/?env=production").content.decode()
    assert '<nav class="pager" aria-label="Pages of nodes">' in first
    assert '<a class="button" role="link" aria-disabled="true">« First page</a>' in first
    assert '<a class="button" role="link" aria-disabled="true">‹ Previous</a>' in first
    assert 'rel="next">Next ›</a>' in first and 'rel="prev"' not in first
    second_url = viewer_client.get("/nodes/?env=production").context["pager"].next_url
    second = viewer_client.get("/nodes/" + second_url).content.decode()
    assert 'rel="prev">‹ Previous</a>' in second and '"?env=production">« First page</a>' in second
    assert 'aria-disabled="true">Next ›</a>' in second  # production holds 9 nodes: two pages


@pytest.mark.django_db
def test_report_list_pages_both_ways_with_tied_times(viewer_client, django_assert_max_num_queries, monkeypatch):
    from reports.ui import views

    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    now = timezone.now().replace(microsecond=0)
    for i in range(6):
        n = ui_fleet.node(f"r{i}.example.com")
        for minutes in (3, 3, 7):  # two reports of each node at the same instant
            ui_fleet.report(n, now - dt.timedelta(minutes=minutes), "failed" if i % 2 else "changed")
    pages = walk(viewer_client, django_assert_max_num_queries, "reports", "/reports/", "status=failed", lambda r: r.id)
    assert len(_flat(pages)) == len(set(_flat(pages))) == 9 and len(pages) == 3


@pytest.mark.django_db
def test_node_events_pages_both_ways(viewer_client, django_assert_max_num_queries, monkeypatch):
    from inventory.ui import node_views

    monkeypatch.setattr(node_views, "EVENT_PAGE_SIZE", 3)
    n = ui_fleet.node("ev.example.com")
    now = timezone.now()
    for hours in (1, 2):
        events = [
            {"status": "success", "resource_type": "File", "resource_title": f"/tmp/{hours}-{i}", "timestamp": now}
            for i in range(5)
        ]
        ui_fleet.report(n, now - dt.timedelta(hours=hours), "changed", events=events)
    pages = walk(
        viewer_client,
        django_assert_max_num_queries,
        "node_events",
        "/nodes/ev.example.com/events/",
        "days=2",
        lambda e: e.id,
    )
    assert len(_flat(pages)) == len(set(_flat(pages))) == 10 and len(pages) == 4


@pytest.mark.django_db
def test_inbox_pages_both_ways_with_tied_times(viewer_client, django_assert_max_num_queries, monkeypatch):
    from ingest.ui import views

    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    for i in range(11):
        Command.objects.create(command="store_report", version=8, certname=f"c{i}", payload=b"{}")
    Command.objects.update(received_at=timezone.now())  # every one at the same instant
    pages = walk(
        viewer_client, django_assert_max_num_queries, "inbox", "/inbox/", "command=store_report", lambda c: c.id
    )
    assert _flat(pages) == sorted(Command.objects.values_list("id", flat=True), reverse=True)


@pytest.mark.django_db
def test_audit_log_pages_both_ways(viewer_client, django_assert_max_num_queries, monkeypatch):
    from enc.ui import views

    monkeypatch.setattr(views, "AUDIT_PAGE_SIZE", 3)
    group = uuid.uuid4()
    for version in range(8):
        AuditEntry.objects.create(version=version, actor="eddie", action="update", group_id=group, group_name="Web")
    pages = walk(
        viewer_client,
        django_assert_max_num_queries,
        "audit",
        "/classification/audit/",
        "actor=eddie",
        lambda a: a.version,
    )
    assert _flat(pages) == list(range(7, -1, -1))


@pytest.mark.django_db
def test_where_applied_pages_both_ways(viewer_client, fleet, django_assert_max_num_queries, monkeypatch):
    from inventory.ui import where_views

    monkeypatch.setattr(where_views, "PAGE_SIZE", 2)
    pages = walk(
        viewer_client, django_assert_max_num_queries, "where", "/where/", "code_id=c0ffee2", lambda r: r["certname"]
    )
    assert _flat(pages) == sorted(_flat(pages)) and len(set(_flat(pages))) == 5 and len(pages) == 3
    bad = viewer_client.get("/where/?code_id=c0ffee2&before=bogus")
    assert bad.status_code == 400 and b"page cursor" in bad.content


@pytest.mark.django_db
def test_token_list_pages_both_ways(client, django_assert_max_num_queries, monkeypatch):
    from api import ui

    monkeypatch.setattr(ui, "PAGE_SIZE", 4)
    admin = User.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    for i in range(9):
        tokens.create_token(username="root", name=f"t{i}", scopes=["read"])
    from api.models import ApiToken

    ApiToken.objects.update(created=timezone.now())  # tied creation times
    pages = walk(client, django_assert_max_num_queries, "tokens", "/tokens/", "", lambda t: t.name)
    assert sorted(_flat(pages)) == sorted(f"t{i}" for i in range(9)) and len(pages) == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/inbox/?before=" + paging.encode([{"t": "not a time"}, 1]),
        "/nodes/?sort=reported&before=" + paging.encode([{"t": "2026-01-01T00:00:00"}, "x"]),  # no UTC offset
        "/reports/?before=" + paging.encode([1.5, 2]),
        "/tokens/?before=" + paging.encode(["x", 1]),
        "/where/?code_id=c&before=" + paging.encode([None, None]),
        "/classification/audit/?before=" + paging.encode(["x", "y"]),
    ],
)
def test_forged_cursors_are_a_400_never_a_server_error(viewer_client, url):
    response = viewer_client.get(url)
    assert response.status_code == 400 and b"page cursor" in response.content
