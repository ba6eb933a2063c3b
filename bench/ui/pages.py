"""Time every web UI page (server time: middleware, view, queries, template) against the database
filled by ``bench/ui/generate.py``.

    DATABASE_URL=postgresql://…/stagehand_ui_bench .venv/bin/python bench/ui/pages.py [--runs 5]

Prints, per page, the median and worst of ``--runs`` timed requests after one warm-up, and the
number of SQL queries; pages over the 300 ms goal are marked. Also times the background jobs the
pages rely on (rollup refresh, fact distribution) and the full CSV export.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")
os.environ.setdefault("LOG_LEVEL", "WARNING")
GOAL_MS = 300


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # response.context (for the next-page cursors) and a test host
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from enc.models import ROOT_ID, NodeGroup
    from inventory import fact_stats
    from inventory.models import Catalog, Node
    from reports import rollups

    call_command("migrate", "--noinput", verbosity=0)
    # A few node groups (stored directly: bench data, not a change through the service).
    debian, _ = NodeGroup.objects.get_or_create(
        name="Debian",
        defaults={"parent_id": ROOT_ID, "rule": ["=", ["fact", "os", "family"], "Debian"], "classes": {"ntp": {}}},
    )
    web_group, _ = NodeGroup.objects.get_or_create(
        name="dc1 web",
        defaults={"parent_id": debian.id, "rule": ["~", "name", "dc1"], "classes": {"nginx": {"workers": 4}}},
    )
    user, _ = User.objects.get_or_create(username="bench-viewer")
    user.groups.add(Group.objects.get(name="editor"))
    client = Client()
    client.force_login(user)

    nodes = Node.objects.count()
    failed = Node.objects.filter(latest_report_status="failed", deactivated__isnull=True).order_by("certname").first()
    some = Node.objects.get(pk=min(1234, nodes))
    catalogs = list(Catalog.objects.filter(node=some).order_by("valid_from").values_list("id", flat=True))
    mid = Node.objects.order_by("certname").values_list("certname", flat=True)[nodes // 2]
    at = (timezone.now() - timezone.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    since = (timezone.now() - timezone.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")

    jobs = {}
    started = time.perf_counter()
    rollups.refresh_recent(2)
    jobs["rollup refresh (beat, last 2 h)"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    fact_stats.compute(["os", "family"])
    jobs["fact distribution os.family (worker)"] = (time.perf_counter() - started) * 1000

    # Later and earlier pages come from the pager's links (keyset cursors) of the page before.
    def follow(url, way):
        response = client.get(url)
        return url.split("?")[0] + getattr(response.context["pager"], f"{way}_url")

    def next_of(url):
        return follow(url, "next")

    def prev_of(url):
        return follow(url, "prev")

    pages = [
        ("dashboard", "/"),
        ("dashboard, one environment, 7 days", "/?env=staging&days=7"),
        ("nodes", "/nodes/"),
        ("nodes, failed", "/nodes/?status=failed"),
        ("nodes, unreported", "/nodes/?status=unreported"),
        ("nodes, sorted by last report", "/nodes/?sort=-reported"),
        ("nodes, certname substring", "/nodes/?q=node0421"),
        ("nodes, env + status sorted by env", "/nodes/?env=staging&status=changed&sort=environment"),
        ("nodes, query language", "/nodes/?q=" + quote('facts.os.family = "Suse" and status = failed')),
        ("nodes, fact filter", "/nodes/?fact=" + quote('["os","family"]') + "&value=" + quote('"Suse"')),
        ("nodes, page 2", lambda: next_of("/nodes/")),
        ("nodes, page 3 then previous (before=)", lambda: prev_of(next_of(next_of("/nodes/")))),
        (
            "nodes, by last report, page 3 then previous",
            lambda: prev_of(next_of(next_of("/nodes/?sort=-reported"))),
        ),
        ("nodes, by status, page 2 then previous", lambda: prev_of(next_of("/nodes/?sort=-status"))),
        ("node overview", f"/nodes/{some.certname}/"),
        ("node facts", f"/nodes/{some.certname}/facts/"),
        ("node resources", f"/nodes/{some.certname}/resources/"),
        ("node resources, type filter", f"/nodes/{some.certname}/resources/?type=Package"),
        ("node catalog history + diff", f"/nodes/{some.certname}/catalogs/?from={catalogs[0]}&to={catalogs[-1]}"),
        ("node events", f"/nodes/{failed.certname}/events/"),
        ("reports (last 24 h)", "/reports/"),
        ("reports, failed", "/reports/?status=failed"),
        ("reports, one node, 7 days", f"/reports/?node={mid}&since={since}"),
        ("reports, noop, 7 days", f"/reports/?noop=yes&since={since}"),
        ("reports, page 2", lambda: next_of("/reports/")),
        ("reports, page 3 then previous (before=)", lambda: prev_of(next_of(next_of("/reports/")))),
        ("report", f"/reports/{failed.latest_report_id}/"),
        ("facts", "/facts/"),
        ("facts, path search", "/facts/?q=release"),
        ("fact distribution", "/facts/value/?path=" + quote('["os","family"]')),
        ("where applied, class (on 12% of nodes)", "/where/?class=profile::role1000"),
        ("where applied, resource, as of 10 days ago", f"/where/?type=Cron&title=res1001&at={at}"),
        ("where applied, code_id, one environment", "/where/?code_id=code3&env=production"),
        ("where applied, class on no node", "/where/?class=profile::role10"),
        ("where applied, class, page 2", lambda: next_of("/where/?class=profile::role1000")),
        (
            "where applied, class, page 3 then previous",
            lambda: prev_of(next_of(next_of("/where/?class=profile::role1000"))),
        ),
        ("classification", "/classification/"),
        ("classification group", f"/classification/{debian.id}/"),
        ("classification audit log", "/classification/audit/"),
        ("classification edit (preview fetched after)", f"/classification/{web_group.id}/edit/"),
        ("classification members (list fetched after)", f"/classification/{web_group.id}/members/"),
        ("inbox", "/inbox/"),
        ("inbox, dead", "/inbox/?state=dead"),
        ("inbox, done, page 3 then previous", lambda: prev_of(next_of(next_of("/inbox/?state=done")))),
        ("tokens", "/tokens/"),
    ]
    results = []
    print(f"UI pages against {nodes} nodes; {args.runs} timed runs each after a warm-up (goal {GOAL_MS} ms)")
    for name, url in pages:
        if callable(url):
            url = url()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:500])
        times = []
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
        median, worst = statistics.median(times), max(times)
        flag = "  OVER" if median > GOAL_MS else ""
        results.append(
            {
                "page": name,
                "url": url,
                "median_ms": round(median, 1),
                "max_ms": round(worst, 1),
                "queries": len(queries.captured_queries),
            }
        )
        print(
            f"  {name:45s} median {median:7.1f} ms  max {worst:7.1f} ms  {len(queries.captured_queries):2d} queries{flag}"
        )
    started = time.perf_counter()
    client.get(f"/classification/{web_group.id}/members/list/")
    jobs["group members list (enc.service.members)"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    client.post("/classification/preview/", {"rule": '["~", "name", "dc1"]', "parent": str(debian.id)})
    jobs["rule preview (enc.service.preview)"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    response = client.get("/nodes/?format=csv&inactive=1")
    size = sum(len(chunk) for chunk in response.streaming_content)
    jobs["CSV export, every node"] = (time.perf_counter() - started) * 1000
    print("background jobs and exports:")
    for name, ms in jobs.items():
        print(f"  {name:45s} {ms:9.1f} ms")
    print(f"  (CSV: {size} bytes)")
    if args.json:
        Path(args.json).write_text(json.dumps({"nodes": nodes, "pages": results, "jobs": jobs}, indent=2))


if __name__ == "__main__":
    main()
