"""Hourly run rollups (``RunHour``) rebuilt from reports with set-based SQL.

``refresh(start, end)`` replaces the rollup rows of every hour in ``[start, end)`` in one
transaction; the scan is a range on the partition key, so only the partitions of those hours are
read. Idempotent: run it as often as you like.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone


def _hour(ts: dt.datetime) -> dt.datetime:
    return ts.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def refresh(start: dt.datetime, end: dt.datetime) -> int:
    """Rebuild the hours from ``start`` (rounded down) to ``end`` (rounded up); returns the rows written."""
    start = _hour(start)
    end = _hour(end) + (dt.timedelta(hours=1) if end != _hour(end) else dt.timedelta(0))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM reports_runhour WHERE hour >= %s AND hour < %s", [start, end])
        cursor.execute(
            """
            INSERT INTO reports_runhour
                (hour, environment_id, status, runs, noop_runs, duration_sum, duration_count, duration_max, refreshed)
            SELECT date_trunc('hour', producer_timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                   environment_id, status, count(*), count(*) FILTER (WHERE noop),
                   coalesce(sum(run_duration), 0), count(run_duration), max(run_duration), now()
            FROM reports_report
            WHERE producer_timestamp >= %s AND producer_timestamp < %s
            GROUP BY 1, 2, 3
            """,
            [start, end],
        )
        return cursor.rowcount


def refresh_recent(hours: int = 2) -> int:
    """Rebuild the current hour and the ``hours - 1`` before it (late reports land there too)."""
    now = timezone.now()
    return refresh(now - dt.timedelta(hours=hours - 1), now + dt.timedelta(seconds=1))
