"""Web UI views of reports: the filtered report list (always bounded in time, keyset-paginated on
the partition key) and the report page (events, logs with errors first, metrics, timings)."""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from django.utils import timezone

from inventory.models import Environment, Node
from inventory.ui import charts, paging
from inventory.ui.access import ui_view
from inventory.ui.common import parse_when, render_page
from reports.models import Report, ReportStatus, ResourceEvent

MAX_RANGE = dt.timedelta(days=31)
PAGE_SIZE = 50
REPORT_SORT = paging.Sort("producer_timestamp", "id", descending=True, nullable=False)
LOG_LEVEL_ORDER = {"emerg": 0, "alert": 0, "crit": 0, "err": 0, "error": 0, "warning": 1}


@ui_view()
def report_list(request):
    errors = []
    now = timezone.now()
    try:
        since = parse_when(request.GET.get("since"))
        until = parse_when(request.GET.get("until"))
    except ValueError as exc:
        errors.append(str(exc))
        since = until = None
    until = until or now
    since = since or until - dt.timedelta(days=1)
    if until - since > MAX_RANGE:
        errors.append(f"the time range is limited to {MAX_RANGE.days} days; narrow 'since' or 'until'")
    qs = Report.objects.filter(producer_timestamp__gte=since, producer_timestamp__lt=until)
    status = request.GET.get("status") or ""
    if status:
        if status not in ReportStatus.values:
            errors.append(f"unknown status {status!r} (one of {', '.join(ReportStatus.values)})")
        qs = qs.filter(status=status)
    env_name = request.GET.get("env") or ""
    if env_name:
        env = Environment.objects.filter(name=env_name).first()
        qs = qs.filter(environment_id=env.id if env else -1)
    noop = request.GET.get("noop") or ""
    if noop in ("yes", "no"):
        qs = qs.filter(noop=noop == "yes")
    certname = (request.GET.get("node") or "").strip()
    if certname:
        node = Node.objects.filter(certname=certname).only("id").first()
        qs = qs.filter(node_id=node.id if node else -1)
    rows, pager = [], paging.links(request.GET, None)
    if not errors:
        qs = qs.only(
            "id",
            "certname",
            "environment_id",
            "producer_timestamp",
            "status",
            "noop",
            "noop_pending",
            "run_duration",
            "resources_changed",
            "resources_failed",
            "events_noop",
            "code_id",
            "configuration_version",
            "puppet_version",
        )
        rows, pager = paging.paged(request, qs, REPORT_SORT, PAGE_SIZE, errors)
    env_names = dict(Environment.objects.values_list("id", "name"))
    for row in rows:
        row.environment_name = env_names.get(row.environment_id, "")
    context = {
        "rows": rows,
        "errors": errors,
        "f": request.GET,
        "since": since,
        "until": until,
        "since_value": since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M"),
        "until_value": until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M") if request.GET.get("until") else "",
        "statuses": ReportStatus.values,
        "environments": sorted(env_names.values()),
        "pager": pager,
    }
    return render_page(request, "reports/report_list.html", context, "reports", status=400 if errors else 200)


def _sorted_logs(logs: list[dict]) -> list[dict]:
    indexed = list(enumerate(logs or []))
    indexed.sort(key=lambda item: (LOG_LEVEL_ORDER.get(str(item[1].get("level")), 2), item[0]))
    return [log for _, log in indexed]


@ui_view()
def report_detail(request, report_id: int):
    report = get_object_or_404(Report, pk=report_id)
    node = Node.objects.filter(pk=report.node_id).only("certname", "latest_report_id").first()
    environment = Environment.objects.filter(pk=report.environment_id).first()
    events = list(
        ResourceEvent.objects.filter(report_id=report.id, report_timestamp=report.producer_timestamp).order_by(
            "status", "resource_type", "resource_title"
        )
    )
    status_rank = {"failure": 0, "noop": 1, "success": 2, "skipped": 3}
    events.sort(key=lambda e: status_rank.get(e.status, 4))
    metrics: dict[str, list] = {}
    for metric in report.metrics or []:
        metrics.setdefault(metric.get("category", "?"), []).append(metric)
    timings = sorted(
        (m for m in metrics.get("time", []) if m.get("name") != "total" and isinstance(m.get("value"), int | float)),
        key=lambda m: -m["value"],
    )
    timing_chart = (
        charts.hbars(
            [(m["name"], round(m["value"], 2), None) for m in timings[:20]],
            title="Time per resource type (seconds)",
            desc="Seconds spent per resource type and phase in this run, longest first.",
        )
        if timings
        else None
    )
    logs = _sorted_logs(report.logs)
    context = {
        "report": report,
        "node": node,
        "environment": environment,
        "events": events,
        "logs": logs,
        "log_errors": sum(1 for log in logs if LOG_LEVEL_ORDER.get(str(log.get("level"))) == 0),
        "metrics": sorted(metrics.items()),
        "timings": timings,
        "timing_chart": timing_chart,
    }
    return render_page(request, "reports/report.html", context, "reports")
