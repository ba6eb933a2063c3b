"""Aggregates behind the dashboard. Each is one indexed query over small or precomputed data:
node counts (one pass over ``inventory_node``), the hourly run rollup (``reports_runhour``), the
check-in phase histogram (latest report time of active nodes), and the inbox health counters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone

from ingest.models import Command, CommandState
from inventory.models import Node
from inventory.ui.filters import STATUSES, status_q, unreported_cutoff
from reports.models import RunHour


def node_counts(environment_id: int | None, cutoff: dt.datetime) -> dict[str, int]:
    qs = Node.objects.all()
    if environment_id:
        qs = qs.filter(report_environment_id=environment_id)
    counts = qs.aggregate(total=Count("id"), **{s: Count("id", filter=status_q(s, cutoff)) for s in STATUSES})
    return counts


@dataclass
class RunSeries:
    labels: list[str]
    hours: list[dt.datetime]
    by_status: dict[str, list[int]]
    duration_avg: list[float | None]
    duration_max: list[float | None]
    refreshed: dt.datetime | None
    total_runs: int


def run_series(environment_id: int | None, days: int, now: dt.datetime | None = None) -> RunSeries:
    now = now or timezone.now()
    end = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    start = end - dt.timedelta(days=days)
    qs = RunHour.objects.filter(hour__gte=start, hour__lt=end)
    if environment_id:
        qs = qs.filter(environment_id=environment_id)
    rows = qs.values("hour", "status").annotate(
        runs=Sum("runs"), dsum=Sum("duration_sum"), dcount=Sum("duration_count"), dmax=Max("duration_max")
    )
    refreshed = qs.aggregate(r=Max("refreshed"))["r"]
    hours = [start + dt.timedelta(hours=i) for i in range(days * 24)]
    index = {h: i for i, h in enumerate(hours)}
    by_status = {s: [0] * len(hours) for s in ("failed", "changed", "unchanged")}
    dsum = [0.0] * len(hours)
    dcount = [0] * len(hours)
    dmax: list[float | None] = [None] * len(hours)
    total = 0
    for row in rows:
        i = index.get(row["hour"])
        if i is None or row["status"] not in by_status:
            continue
        by_status[row["status"]][i] += row["runs"]
        total += row["runs"]
        dsum[i] += row["dsum"] or 0
        dcount[i] += row["dcount"] or 0
        if row["dmax"] is not None:
            dmax[i] = max(dmax[i] or 0, row["dmax"])
    avg = [dsum[i] / dcount[i] if dcount[i] else None for i in range(len(hours))]
    if days <= 2:
        labels = [f"{h:%H}h" if h.hour % 3 == 0 else "" for h in hours]
    else:
        labels = [f"{h:%b %d}" if h.hour == 0 else "" for h in hours]
    return RunSeries(labels, hours, by_status, avg, dmax, refreshed, total)


def checkin_histogram(
    environment_id: int | None, interval: int, buckets: int = 60, now: dt.datetime | None = None
) -> tuple[list[int], int]:
    """How many active nodes last reported at each phase of the run interval (seconds into it).

    Only nodes that reported within the last day count (their phase is still meaningful). The
    phase is ``epoch(report_timestamp) mod interval``, so a wave of nodes starting together shows
    as a spike. Returns (counts per bucket, nodes counted)."""
    now = now or timezone.now()
    env_sql = "AND report_environment_id = %s" if environment_id else ""
    params: list = [interval, buckets, interval, now - dt.timedelta(days=1)]
    if environment_id:
        params.append(environment_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT (date_part('epoch', report_timestamp)::bigint %% %s) * %s / %s AS b, count(*)
            FROM inventory_node
            WHERE report_timestamp >= %s AND deactivated IS NULL AND expired IS NULL {env_sql}
            GROUP BY 1
            """,  # noqa: S608 - env_sql is a constant fragment
            params,
        )
        counts = [0] * buckets
        total = 0
        for bucket, count in cursor.fetchall():
            counts[min(max(bucket, 0), buckets - 1)] += count
            total += count
    return counts, total


def latest_failures(environment_id: int | None, cutoff: dt.datetime, limit: int = 10):
    qs = Node.objects.filter(status_q("failed", cutoff))
    if environment_id:
        qs = qs.filter(report_environment_id=environment_id)
    return list(
        qs.select_related("report_environment")
        .only(
            "certname",
            "report_timestamp",
            "latest_report_id",
            "latest_report_status",
            "latest_report_code_id",
            "report_environment__name",
        )
        .order_by(F("report_timestamp").desc(nulls_last=True))[:limit]
    )


def inbox_health(now: dt.datetime | None = None, window: int = 300) -> dict:
    now = now or timezone.now()
    since = now - dt.timedelta(seconds=window)
    pending = Command.objects.filter(state=CommandState.PENDING).aggregate(n=Count("id"), oldest=Min("received_at"))
    dead = Command.objects.filter(state=CommandState.DEAD).count()
    received = Command.objects.filter(state__in=list(CommandState.values), received_at__gte=since).aggregate(
        n=Count("id"), dead=Count("id", filter=Q(state=CommandState.DEAD))
    )
    return {
        "pending": pending["n"],
        "oldest_pending": pending["oldest"],
        "dead": dead,
        "received": received["n"],
        "rate": received["n"] / window,
        "window": window,
    }


__all__ = ["node_counts", "run_series", "checkin_histogram", "latest_failures", "inbox_health", "unreported_cutoff"]
