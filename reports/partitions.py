"""Day partitions of ``reports_report`` and ``reports_resourceevent``.

Partitions are named ``<table>_pYYYYMMDD`` and cover ``[day 00:00 UTC, next day 00:00 UTC)``.
``ensure_day`` is idempotent and cheap after the first call per process and day; retention drops
whole partitions with ``drop_days_before``.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection

# Events before reports: a day is dropped table by table, and an event never outlives its report
# (the events query relies on it and skips the join to reports when it reads no report column).
PARTITIONED_TABLES = {"reports_resourceevent": "report_timestamp", "reports_report": "producer_timestamp"}
_PARTITION_RE = re.compile(r"^(reports_report|reports_resourceevent)_p(\d{8})$")
_known: set[dt.date] = set()


def partition_name(table: str, day: dt.date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def ensure_day(day: dt.date, using=None) -> None:
    """Create the day partitions of both tables for ``day`` if they do not exist.

    Call it before opening the transaction that inserts: a partition created outside a
    transaction is committed at once and remembered for the life of the process; one created
    inside a transaction is not remembered (a rollback would take it away again).
    """
    if day in _known:
        return
    conn = using or connection
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    with conn.cursor() as cursor:
        for table in PARTITIONED_TABLES:
            name = partition_name(table, day)
            cursor.execute("SELECT to_regclass(%s)", [name])
            if cursor.fetchone()[0] is None:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)",
                    [start, end],
                )
    if not conn.in_atomic_block:
        _known.add(day)


def ensure_for(timestamp: dt.datetime, using=None) -> None:
    ensure_day(timestamp.astimezone(dt.UTC).date(), using=using)


def existing_days(using=None) -> list[dt.date]:
    conn = using or connection
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'reports_report'"
        )
        names = [row[0] for row in cursor.fetchall()]
    days = []
    for name in names:
        match = _PARTITION_RE.match(name)
        if match:
            days.append(dt.datetime.strptime(match.group(2), "%Y%m%d").date())
    return sorted(days)


def drop_days_before(cutoff: dt.date, using=None) -> list[dt.date]:
    """Drop every day partition (both tables) strictly older than ``cutoff``; returns the days."""
    conn = using or connection
    dropped = []
    for day in existing_days(using=conn):
        if day >= cutoff:
            continue
        with conn.cursor() as cursor:
            for table in PARTITIONED_TABLES:
                cursor.execute(f"DROP TABLE IF EXISTS {partition_name(table, day)}")
        _known.discard(day)
        dropped.append(day)
    return dropped


def forget_cache() -> None:
    """Forget which partitions this process has created (tests that drop partitions call it)."""
    _known.clear()
