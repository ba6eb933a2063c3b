"""Web UI views of the inventory: dashboard, node list, node pages, facts, where applied.

Views are thin: they parse the query string, call the query helpers and render. Every list uses
keyset pagination and every aggregate is indexed or precomputed (see ``inventory/ui/stats.py``).
"""

from __future__ import annotations

import csv
import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from inventory.models import Environment, Node
from inventory.ui import charts, paging, stats
from inventory.ui.access import ui_view
from inventory.ui.common import int_param, render_page
from inventory.ui.filters import STATUS_LABELS, STATUSES, status_q, unreported_cutoff
from inventory.ui.search import MATCH_CAP, SearchError, apply_search

NODE_SORTS = {
    "certname": paging.Sort("certname", "certname"),
    "-certname": paging.Sort("certname", "certname", descending=True),
    "reported": paging.Sort("report_timestamp", "certname", nulls_small=True),
    "-reported": paging.Sort("report_timestamp", "certname", descending=True, nulls_small=True),
    "status": paging.Sort("latest_report_status", "certname"),
    "-status": paging.Sort("latest_report_status", "certname", descending=True),
    "environment": paging.Sort("report_environment__name", "certname"),
    "-environment": paging.Sort("report_environment__name", "certname", descending=True),
}
PAGE_SIZE = 50
COUNT_CAP = 1000


def _environment(request) -> Environment | None:
    name = request.GET.get("env") or ""
    if not name:
        return None
    return Environment.objects.filter(name=name).first()


# --- dashboard ------------------------------------------------------------------------------
@ui_view()
def dashboard(request):
    env = _environment(request)
    env_id = env.id if env else None
    days = int_param(request, "days", 3, 1, 14)
    interval = int_param(request, "interval", settings.UI_RUN_INTERVAL, 60, 86400)
    cutoff = unreported_cutoff()
    counts = stats.node_counts(env_id, cutoff)
    base = {"env": env.name} if env else {}
    tiles = [
        {
            "key": key,
            "label": STATUS_LABELS[key],
            "count": counts[key],
            "href": reverse("ui:nodes") + "?" + urlencode({**base, "status": key}),
        }
        for key in STATUSES
    ]
    series = stats.run_series(env_id, days)
    label_every = 1
    run_chart = charts.stacked_bars(
        series.labels,
        {k: series.by_status[k] for k in ("unchanged", "changed", "failed")},
        title="Runs per hour",
        desc=f"Puppet runs per hour over the last {days} days by status; {series.total_runs} runs in all.",
        label_every=label_every,
        hrefs=[
            reverse("ui:reports")
            + "?"
            + urlencode(
                {
                    **base,
                    "since": h.strftime("%Y-%m-%dT%H:%M"),
                    "until": (h + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                }
            )
            for h in series.hours
        ],
    )
    duration_chart = charts.lines(
        series.labels,
        {"avg": series.duration_avg, "max": series.duration_max},
        title="Run duration",
        desc=f"Average and longest run duration (seconds) per hour over the last {days} days.",
        unit="s",
        label_every=label_every,
    )
    buckets = 60
    checkins, checkin_total = stats.checkin_histogram(env_id, interval, buckets)
    mean = checkin_total / buckets if buckets else 0
    step = interval / buckets
    checkin_labels = [
        (f"{int(i * step // 60)}:{int(i * step % 60):02d}" if i % 10 == 0 else "") for i in range(buckets)
    ]
    checkin_chart = charts.histogram(
        checkin_labels,
        checkins,
        title="Check-ins within the run interval",
        desc=(
            f"Active nodes by the moment of their last run within a {interval // 60}-minute interval "
            f"({checkin_total} nodes); spikes are waves of simultaneous runs."
        ),
        highlight_above=mean * 2 if mean else None,
    )
    peak = max(checkins) if checkins else 0
    context = {
        "env": env,
        "environments": Environment.objects.only("name"),
        "days": days,
        "day_choices": [1, 2, 3, 7, 14],
        "interval": interval,
        "counts": counts,
        "tiles": tiles,
        "series": series,
        "run_chart": run_chart,
        "duration_chart": duration_chart,
        "run_rows": [
            {
                "hour": h,
                "failed": series.by_status["failed"][i],
                "changed": series.by_status["changed"][i],
                "unchanged": series.by_status["unchanged"][i],
                "avg": series.duration_avg[i],
                "max": series.duration_max[i],
            }
            for i, h in enumerate(series.hours)
            if any(series.by_status[s][i] for s in series.by_status)
        ],
        "checkin_chart": checkin_chart,
        "checkin_total": checkin_total,
        "checkin_peak": peak,
        "checkin_peak_share": (peak / checkin_total * 100) if checkin_total else 0,
        "checkin_rows": [(checkin_labels[i] or f"bucket {i}", c) for i, c in enumerate(checkins)],
        "failures": stats.latest_failures(env_id, cutoff),
        "inbox": stats.inbox_health(),
        "unreported_hours": settings.UI_UNREPORTED_AFTER / 3600,
        "now": timezone.now(),
    }
    return render_page(request, "inventory/dashboard.html", context, "dashboard")


# --- node list ------------------------------------------------------------------------------
def _node_list_queryset(request):
    """The filtered node queryset and the problems found in the query string."""
    errors = []
    qs = Node.objects.all()
    status = request.GET.get("status") or ""
    if status and status not in STATUSES:
        errors.append(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
        status = ""
    if status:
        qs = qs.filter(status_q(status, unreported_cutoff()))
    elif request.GET.get("inactive") != "1":
        qs = qs.filter(deactivated__isnull=True, expired__isnull=True)
    env_name = request.GET.get("env") or ""
    if env_name:
        qs = qs.filter(report_environment__name=env_name)
    code_id = request.GET.get("code_id") or ""
    if code_id:
        qs = qs.filter(latest_catalog_code_id=code_id)
    q = (request.GET.get("q") or "").strip()
    if q:
        try:
            qs, capped = apply_search(qs, q, active_only=not status and request.GET.get("inactive") != "1")
        except SearchError as exc:
            errors.append(str(exc))
            qs = qs.none()
        else:
            if capped:
                errors_note = f"The query matched more than {MATCH_CAP} nodes: only the first {MATCH_CAP} are listed."
                request._search_note = errors_note
    fact_path = request.GET.get("fact") or ""
    if fact_path:
        from inventory.ui.facts import FactPathError, nodes_with_value

        try:
            qs = nodes_with_value(qs, fact_path, request.GET.get("value", ""))
        except FactPathError as exc:
            errors.append(str(exc))
            qs = qs.none()
    return qs, errors


@ui_view()
def nodes(request):
    qs, errors = _node_list_queryset(request)
    sort_key = request.GET.get("sort") or "certname"
    sort = NODE_SORTS.get(sort_key) or NODE_SORTS["certname"]
    if request.GET.get("format") == "csv":
        return _nodes_csv(qs, sort)
    rows, pager = [], paging.links(request.GET, None)
    total = 0
    total_capped = False
    if not errors:
        qs = qs.select_related("report_environment").only(
            "certname",
            "deactivated",
            "expired",
            "report_timestamp",
            "catalog_timestamp",
            "facts_timestamp",
            "latest_report_status",
            "latest_report_noop",
            "latest_report_noop_pending",
            "latest_report_id",
            "latest_catalog_code_id",
            "report_environment__name",
        )
        rows, pager = paging.paged(request, qs, sort, PAGE_SIZE, errors)
        if request.GET.get("fact"):
            # Fact conditions are re-checked on every matching factset: count at most COUNT_CAP.
            total = qs.order_by().values("pk")[: COUNT_CAP + 1].count()
            total_capped = total > COUNT_CAP
            total = min(total, COUNT_CAP)
        else:
            total = qs.order_by().count()
    params = request.GET.copy()
    for key in paging.CURSOR_PARAMS:
        params.pop(key, None)
    columns = [
        ("certname", "Node"),
        ("status", "Status"),
        ("environment", "Environment"),
        ("reported", "Last report"),
    ]
    headers = []
    for key, label in columns:
        current = sort_key.lstrip("-") == key
        descending = sort_key.startswith("-")
        target = f"-{key}" if current and not descending else key
        if key == "reported" and not current:
            target = "-reported"
        sort_params = params.copy()
        sort_params["sort"] = target
        headers.append(
            {
                "label": label,
                "href": "?" + sort_params.urlencode(),
                "aria_sort": ("descending" if descending else "ascending") if current else None,
            }
        )
    csv_params = params.copy()
    csv_params["format"] = "csv"
    context = {
        "rows": rows,
        "total": total,
        "total_capped": total_capped,
        "search_note": getattr(request, "_search_note", ""),
        "errors": errors,
        "headers": headers,
        "statuses": [(s, STATUS_LABELS[s]) for s in STATUSES],
        "environments": Environment.objects.only("name"),
        "f": request.GET,
        "pager": pager,
        "csv_url": "?" + csv_params.urlencode(),
        "cutoff": unreported_cutoff(),
        "page_size": PAGE_SIZE,
    }
    return render_page(request, "inventory/nodes.html", context, "nodes", status=400 if errors else 200)


class _Echo:
    def write(self, value):
        return value


CSV_COLUMNS = [
    "certname",
    "status",
    "noop_pending",
    "environment",
    "report_timestamp",
    "catalog_timestamp",
    "facts_timestamp",
    "code_id",
    "deactivated",
    "expired",
]


def _nodes_csv(qs, sort):
    rows = (
        qs.order_by(*sort.order_by())
        .values_list(
            "certname",
            "latest_report_status",
            "latest_report_noop_pending",
            "report_environment__name",
            "report_timestamp",
            "catalog_timestamp",
            "facts_timestamp",
            "latest_catalog_code_id",
            "deactivated",
            "expired",
        )
        .iterator(chunk_size=2000)
    )
    writer = csv.writer(_Echo())

    def fmt(value):
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return "" if value is None else value

    def stream():
        yield writer.writerow(CSV_COLUMNS)
        for row in rows:
            yield writer.writerow([fmt(v) for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="nodes.csv"'
    return response


def get_node(certname: str) -> Node:
    return get_object_or_404(
        Node.objects.select_related("report_environment", "catalog_environment", "facts_environment"), certname=certname
    )


__all__ = ["dashboard", "nodes", "get_node", "Http404", "Q"]
