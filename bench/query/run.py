"""Query latency benchmark over a fleet made by ``generate.py`` or ``side_by_side.py``.

    DATABASE_URL=postgresql://.../stagehand_query_bench .venv/bin/python bench/query/run.py --iterations 30 \
        [--stagehand http://127.0.0.1:8080] [--puppetdb http://127.0.0.1:8086]

Without ``--stagehand`` each query goes through the full Django view (URL routing, parameter
checks, compilation, SQL, JSON) in-process, so the figures exclude the HTTP socket and the WSGI
server. With ``--stagehand URL`` the queries are sent over HTTP to Stagehand's web service (started
as in production, gunicorn from the Procfile), which is how PuppetDB is measured too: use that for
side-by-side figures. ``--puppetdb URL`` times the same PuppetDB-API requests against a real
PuppetDB that holds the same fleet; the two are interleaved request by request so that load from
other processes on the machine falls on both alike. Prints p50/p99 per query and writes
``bench/query/results-<nodes>.json`` (or ``--out``), with the load average before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")
os.environ.setdefault("PUPPETDB_API_ALLOW_ANONYMOUS", "true")

V4 = "/pdb/query/v4"


def J(value) -> str:
    return json.dumps(value)


def queries(node: str, day0: str, day1: str) -> list[tuple[str, str, dict]]:
    lr = ["=", "latest_report?", True]
    return [
        # puppetboard's calls (overview, nodes, node, reports, facts, fact, inventory, radiator, failures)
        ("pb: environments", f"{V4}/environments", {}),
        (
            "pb: node count in env",
            f"{V4}/nodes",
            {"query": J(["extract", [["function", "count"]], ["and", ["=", "catalog_environment", "production"]]])},
        ),
        (
            "pb: resource count in env",
            f"{V4}/resources",
            {"query": J(["extract", [["function", "count"]], ["=", "environment", "production"]])},
        ),
        (
            "pb: failed nodes",
            f"{V4}/nodes",
            {"query": J(["and", ["=", "catalog_environment", "production"], ["=", "latest_report_status", "failed"]])},
        ),
        ("pb: node", f"{V4}/nodes/{node}", {}),
        (
            "pb: node facts",
            f"{V4}/facts",
            {"query": J(["and", ["=", "certname", node], ["=", "environment", "production"]])},
        ),
        (
            "pb: node reports page",
            f"{V4}/reports",
            {
                "query": J(["and", ["=", "certname", node]]),
                "order_by": J([{"field": "end_time", "order": "desc"}]),
                "limit": "10",
                "include_total": "true",
            },
        ),
        (
            "pb: reports page (env)",
            f"{V4}/reports",
            {
                "query": J(["and", ["=", "environment", "production"]]),
                "order_by": J([{"field": "end_time", "order": "desc"}]),
                "limit": "100",
                "include_total": "true",
            },
        ),
        (
            "pb: daily chart (1 day)",
            f"{V4}/reports",
            {
                "query": J(
                    [
                        "extract",
                        [["function", "count"], "status"],
                        [
                            "and",
                            [">=", "producer_timestamp", day0],
                            ["<", "producer_timestamp", day1],
                            ["=", "environment", "production"],
                        ],
                        ["group_by", "status"],
                    ]
                )
            },
        ),
        ("pb: report by hash + events", f"{V4}/events", {"query": J(["=", "report", "@HASH@"])}),
        ("pb: fact names", f"{V4}/fact-names", {}),
        (
            "pb: fact values (os, limit 1000)",
            f"{V4}/facts/os",
            {"query": J(["and", ["=", "environment", "production"]]), "limit": "1000"},
        ),
        (
            "pb: inventory facts (3 names, limit 1000)",
            f"{V4}/facts",
            {
                "query": J(
                    [
                        "and",
                        ["or", ["=", "name", "fqdn"], ["=", "name", "kernel"], ["=", "name", "role"]],
                        ["=", "environment", "production"],
                    ]
                ),
                "limit": "1000",
            },
        ),
        ("pb: event-counts latest (all nodes)", f"{V4}/event-counts", {"query": J(lr), "summarize_by": "certname"}),
        (
            "pb: failures reports",
            f"{V4}/reports",
            {"query": J(["and", ["=", "latest_report?", True], ["=", "status", "failed"]]), "limit": "100"},
        ),
        (
            "pb: class nodes (in resources)",
            f"{V4}/nodes",
            {
                "query": J(
                    [
                        "in",
                        "certname",
                        [
                            "from",
                            "resources",
                            [
                                "extract",
                                ["certname"],
                                [
                                    "and",
                                    ["=", "type", "Class"],
                                    ["=", "title", "Role::R3"],
                                    ["=", "environment", "production"],
                                ],
                            ],
                        ],
                    ]
                )
            },
        ),
        # fact filters
        ("fact filter: nodes fact role", f"{V4}/nodes", {"query": J(["=", ["fact", "role"], "r7"]), "limit": "1000"}),
        (
            "fact filter: inventory os.family count",
            f"{V4}/inventory",
            {"query": J(["extract", [["function", "count"]], ["=", "facts.os.family", "RedHat"]])},
        ),
        (
            "fact filter: inventory os.release.full (rows)",
            f"{V4}/inventory",
            {"query": J(["extract", ["certname"], ["=", "facts.os.release.full", "9.2"]]), "limit": "1000"},
        ),
        (
            "fact filter: facts by name value",
            f"{V4}/facts",
            {"query": J(["and", ["=", "name", "datacenter"], ["=", "value", "dc2"]]), "limit": "1000"},
        ),
        (
            "fact filter: fact-contents by path",
            f"{V4}/fact-contents",
            {"query": J(["and", ["=", "path", ["os", "release", "full"]], ["=", "value", "12.5"]]), "limit": "1000"},
        ),
        (
            "fact filter: numeric >",
            f"{V4}/nodes",
            {"query": J([">", ["fact", "memorysize_mb"], 15000]), "limit": "1000"},
        ),
        # where applied (PuppetDB-style and native)
        (
            "where: resources Class (1000 rows)",
            f"{V4}/resources",
            {"query": J(["and", ["=", "type", "Class"], ["=", "title", "Profile::P7"]]), "limit": "1000"},
        ),
        (
            "where: resources Class count",
            f"{V4}/resources",
            {
                "query": J(
                    ["extract", [["function", "count"]], ["and", ["=", "type", "Class"], ["=", "title", "Profile::P7"]]]
                )
            },
        ),
        ("where: native now (page 1000)", "/api/v1/where-applied", {"class": "Profile::P7", "page_size": "1000"}),
        (
            "where: native at= (page 1000)",
            "/api/v1/where-applied",
            {"class": "Legacy", "at": "@AT@", "page_size": "1000"},
        ),
        (
            "where: native unique resource",
            "/api/v1/where-applied",
            {"type": "File", "title": "/etc/hostname", "parameter": "content", "value": node},
        ),
        (
            "where: PQL nodes with class",
            V4,
            {"query": 'nodes[certname] { resources { type = "Class" and title = "Role::R3" } limit 1000 }'},
        ),
        ("native: nodes status=failed page", "/api/v1/nodes/", {"status": "failed", "page_size": "100"}),
        (
            "native: nodes query PQL cond",
            "/api/v1/nodes/",
            {"query": "facts.os.family = RedHat and status = failed", "page_size": "100"},
        ),
        # The web UI's node search in the query language (issue 6: under 300 ms server time).
        ("ui: node search query language", "/nodes/", {"q": 'facts.os.family = "Debian" and status = failed'}),
    ]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def count_rows(content: bytes) -> int | None:
    if content.lstrip()[:1] not in (b"[", b"{"):
        return None  # an HTML page
    body = json.loads(content)
    if isinstance(body, dict) and "results" in body:
        return len(body["results"])
    return len(body) if isinstance(body, list) else 1


class Http:
    """One keep-alive HTTP/1.1 connection (``http.client``) and nothing else on the request path,
    so that the figures are the servers' rather than a client library's (``requests`` added about
    0.5 ms to every call here). No ``Accept-Encoding``: neither side compresses over loopback."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, params: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
        target = path + ("?" + urlencode(params) if params else "")
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                self.conn.request("GET", target, headers=headers or {})
                response = self.conn.getresponse()
                body = response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            if response.will_close:
                self.conn.close()
                self.conn = None
            return response.status, body
        raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--puppetdb", default=None, help="base URL of a PuppetDB holding the same fleet")
    parser.add_argument("--stagehand", default=None, help="base URL of Stagehand's web service (default: in-process)")
    parser.add_argument(
        "--anonymous",
        action="store_true",
        help="send PuppetDB-API requests to Stagehand without a token, as PuppetDB's plain-HTTP port is queried "
        "(Stagehand must allow it: PUPPETDB_API_ALLOW_ANONYMOUS=true); the native API and the UI still authenticate",
    )
    parser.add_argument("--only", default=None, help="run only the queries whose name contains this text")
    parser.add_argument("--out", default=None, help="result file (default bench/query/results-<nodes>.json)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client

    from api.models import ApiToken

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM inventory_node")
        n_nodes = cursor.fetchone()[0]
        cursor.execute("SELECT certname, latest_report_hash FROM inventory_node ORDER BY certname OFFSET 123 LIMIT 1")
        node, report_hash = cursor.fetchone()
        cursor.execute("SELECT min(valid_from) + interval '1 hour' FROM inventory_catalog WHERE valid_to IS NOT NULL")
        at = cursor.fetchone()[0] or dt.datetime.now(dt.UTC)
        # The daily chart covers the day of the fleet's latest report (the fleet may be older than today).
        cursor.execute("SELECT max(producer_timestamp) FROM reports_report")
        latest = cursor.fetchone()[0] or dt.datetime.now(dt.UTC)
    user, _ = get_user_model().objects.get_or_create(username="bench-reader")
    _token, raw = ApiToken.issue(user=user, name="bench", scopes=["read"])
    auth = f"Bearer {raw}"
    # The web UI takes a session (a viewer role) instead of a token.
    user.groups.add(Group.objects.get(name="viewer"))
    ui_client = Client(HTTP_HOST="127.0.0.1")
    ui_client.force_login(user)
    session_cookie = ui_client.cookies[settings.SESSION_COOKIE_NAME].value
    day = latest.astimezone(dt.UTC).date()
    day0 = f"{day:%Y-%m-%d}T00:00:00.000Z"
    day1 = f"{day + dt.timedelta(days=1):%Y-%m-%d}T00:00:00.000Z"

    if args.stagehand:
        stagehand_http = Http(args.stagehand)
        ui_cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_cookie}"}

        def stagehand_get(path, params):
            if path.startswith("/pdb/") and args.anonymous:
                return stagehand_http.get(path, params)
            if path.startswith(("/pdb/", "/api/")):
                return stagehand_http.get(path, params, {"Authorization": auth})
            return stagehand_http.get(path, params, ui_cookie)
    else:
        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=auth)
        anonymous_client = Client(HTTP_HOST="127.0.0.1")

        def stagehand_get(path, params):
            if path.startswith("/pdb/") and args.anonymous:
                r = anonymous_client.get(path, params)
            else:
                r = (client if path.startswith(("/pdb/", "/api/")) else ui_client).get(path, params)
            return r.status_code, r.content

    pdb_http = Http(args.puppetdb) if args.puppetdb else None

    def timed(get, path, params) -> tuple[float, int, bytes]:
        started = time.perf_counter()
        status, content = get(path, params)
        return (time.perf_counter() - started) * 1000, status, content

    def puppetdb_get(path, params):
        return pdb_http.get(path, params)

    results = []
    load_before = loadavg()
    mode = f"HTTP {args.stagehand}" if args.stagehand else "in-process"
    auth_note = "PuppetDB API anonymous" if args.anonymous else "PuppetDB API with a token"
    print(
        f"{n_nodes} nodes, {args.iterations} iterations per query, Stagehand {mode}, {auth_note}; loadavg {load_before}"
    )
    print(
        f"{'query':48} {'rows':>7} {'p50 ms':>8} {'p99 ms':>8}"
        + ("  pdb rows   pdb p50   pdb p99" if args.puppetdb else "")
    )
    for name, path, params in queries(node, day0, day1):
        if args.only and args.only not in name:
            continue
        params = {k: v.replace("@HASH@", report_hash).replace("@AT@", at.isoformat()) for k, v in params.items()}
        with_pdb = bool(args.puppetdb) and path.startswith("/pdb/")
        times, ptimes = [], []
        rows = prows = None
        for i in range(args.iterations + 3):
            # Interleaved, so that load from elsewhere on the machine falls on both sides alike.
            elapsed, status, content = timed(stagehand_get, path, params)
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status}: {content[:300]!r}")
            if rows is None:
                rows = count_rows(content)
            if i >= 3:
                times.append(elapsed)
            if with_pdb:
                elapsed, status, content = timed(puppetdb_get, path, params)
                if status == 200:
                    if prows is None:
                        prows = count_rows(content)
                    if i >= 3:
                        ptimes.append(elapsed)
        entry = {
            "query": name,
            "path": path,
            "params": params,
            "rows": rows,
            "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(pct(times, 99), 2),
        }
        line = f"{name:48} {rows if rows is not None else 'html':>7} {entry['p50_ms']:>8.1f} {entry['p99_ms']:>8.1f}"
        if ptimes:
            entry["puppetdb_rows"] = prows
            entry["puppetdb_p50_ms"] = round(statistics.median(ptimes), 2)
            entry["puppetdb_p99_ms"] = round(pct(ptimes, 99), 2)
            line += f" {prows:>9} {entry['puppetdb_p50_ms']:>9.1f} {entry['puppetdb_p99_ms']:>9.1f}"
        print(line, flush=True)
        results.append(entry)
    load_after = loadavg()
    print(f"loadavg after: {load_after}")
    out = Path(args.out) if args.out else Path(__file__).parent / f"results-{n_nodes}.json"
    out.write_text(
        json.dumps(
            {
                "nodes": n_nodes,
                "iterations": args.iterations,
                "stagehand": mode,
                "puppetdb_api_auth": "none (anonymous)" if args.anonymous else "API token",
                "puppetdb": args.puppetdb,
                "measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "loadavg_before": load_before,
                "loadavg_after": load_after,
                "results": results,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
