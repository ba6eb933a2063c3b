"""Lifecycle and retention (PuppetDB's ``node-ttl``, ``node-purge-ttl``, ``report-ttl``, plus the
catalog history Stagehand keeps and PuppetDB does not).

Every operation is set-based SQL in bounded batches, each batch its own short transaction, so it
can run under load: rows another transaction holds are skipped (``SKIP LOCKED``) and picked up by
the next run, and report retention drops whole day partitions with a short ``lock_timeout`` —
when a lock cannot be had at once the day is left for the next run instead of queueing behind
(and in front of) ingest and queries.

* :func:`expire_nodes` — active nodes with no write for ``node_ttl`` get ``expired`` set.
* :func:`purge_nodes` — nodes deactivated or expired for longer than ``node_purge_ttl`` are deleted
  with their factset, catalogs, reports and events.
* :func:`gc_catalog_history` — catalog versions that stopped being current more than
  ``catalog_history_ttl`` ago are deleted; resource sets, edge sets and resources no catalog
  refers to any more are collected.
* :func:`purge_reports` — day partitions of reports and events older than ``report_ttl``.
* :func:`gc_packages` — packages no factset lists any more.
* :func:`gc_fact_paths` — fact paths no factset holds any more (mark, then sweep after a grace).
* :func:`delete_node` — PuppetDB's admin ``delete`` command: one node and all its data, now.
* :func:`run_operation` — any of the above by name (:data:`OPERATIONS`), with a policy's settings:
  what the Celery tasks, ``manage.py housekeeping`` and the admin ``clean`` call.

Domain code: no request or view imports; the Celery tasks, the management command and the admin
API only call these functions.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import orjson
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from config import metrics
from config.env import parse_duration  # noqa: F401 - re-exported for callers
from inventory.models import Node
from inventory.signals import node_deactivated
from inventory.storage import facts as facts_storage
from reports import partitions

log = logging.getLogger("stagehand.retention")

# Advisory lock keys (pg_advisory_*): one clean at a time across all processes (PuppetDB answers
# 409 to a second one), and the resource GC guard (see ``resource_gc_guard_shared``).
CLEAN_LOCK_KEY = 0x5354_4801
RESOURCE_GC_LOCK_KEY = 0x5354_4802


@dataclass
class RetentionPolicy:
    node_ttl: dt.timedelta
    node_purge_ttl: dt.timedelta
    report_ttl: dt.timedelta
    catalog_history_ttl: dt.timedelta
    batch_size: int = 500
    lock_timeout_ms: int = 2000
    fact_path_gc_grace: dt.timedelta = dt.timedelta(minutes=15)

    @classmethod
    def from_settings(cls) -> RetentionPolicy:
        return cls(
            node_ttl=settings.NODE_TTL,
            node_purge_ttl=settings.NODE_PURGE_TTL,
            report_ttl=settings.REPORT_TTL,
            catalog_history_ttl=settings.CATALOG_HISTORY_TTL,
            batch_size=settings.RETENTION_BATCH_SIZE,
            lock_timeout_ms=settings.RETENTION_LOCK_TIMEOUT_MS,
            fact_path_gc_grace=settings.FACT_PATH_GC_GRACE,
        )


@dataclass
class RunResult:
    """What one retention operation did (returned to callers, logged, counted in metrics)."""

    operation: str
    count: int = 0
    details: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)  # e.g. days whose partition lock was busy

    def as_dict(self) -> dict:
        return {"operation": self.operation, "count": self.count, **self.details, "skipped": self.skipped}


def _observe(result: RunResult, started: float) -> RunResult:
    duration = time.perf_counter() - started
    log.info(
        "retention",
        extra={
            "operation": result.operation,
            "count": result.count,
            "skipped": len(result.skipped),
            "duration_ms": round(duration * 1000, 2),
        },
    )
    metrics.RETENTION_RUNS.labels(operation=result.operation).inc()
    metrics.RETENTION_ROWS.labels(operation=result.operation).inc(result.count)
    metrics.RETENTION_SKIPPED.labels(operation=result.operation).inc(len(result.skipped))
    metrics.RETENTION_DURATION.labels(operation=result.operation).observe(duration)
    return result


# --- nodes -----------------------------------------------------------------------------------


def expire_nodes(ttl: dt.timedelta, *, now: dt.datetime | None = None, batch_size: int = 500) -> RunResult:
    """Mark active nodes expired when their newest write (facts, catalog, report, catalog inputs
    or ``configure expiration``; the node's creation if it has none) is older than ``ttl``. Nodes
    whose ``configure expiration`` says facts do not expire are left alone (PuppetDB semantics).
    A zero ``ttl`` disables it."""
    started = time.perf_counter()
    result = RunResult("expire_nodes")
    if not ttl:
        return result
    now = now or timezone.now()
    cutoff = now - ttl
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    UPDATE inventory_node n SET expired = %s
                    WHERE n.id IN (
                        SELECT id FROM inventory_node
                        WHERE deactivated IS NULL AND expired IS NULL AND expires_facts
                          AND GREATEST(facts_timestamp, catalog_timestamp, report_timestamp, created,
                                       expires_facts_updated) < %s
                          AND NOT EXISTS (SELECT 1 FROM inventory_cataloginputs ci
                                          WHERE ci.node_id = inventory_node.id AND ci.producer_timestamp >= %s)
                        ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                    RETURNING n.id
                    """,
                    [now, cutoff, cutoff, batch_size],
                )
                ids = [row[0] for row in cursor.fetchall()]
            if ids and node_deactivated.receivers:
                for node in Node.objects.filter(id__in=ids):
                    node_deactivated.send(sender=Node, node=node, reason="expired")
        result.count += len(ids)
        if len(ids) < batch_size:
            break
    return _observe(result, started)


# Tables holding a node's data, deleted before the node row itself. Reports, events and catalog
# inputs reference the node without a database foreign key; the rest cascade in the ORM only.
_NODE_DATA_SQL = [
    "DELETE FROM reports_resourceevent WHERE node_id = ANY(%s)",
    "DELETE FROM reports_report WHERE node_id = ANY(%s)",
    "DELETE FROM inventory_catalog WHERE node_id = ANY(%s)",
    "DELETE FROM inventory_cataloginputs WHERE node_id = ANY(%s)",
    "DELETE FROM inventory_factset WHERE node_id = ANY(%s)",
]


def _delete_nodes(cursor, ids: list[int]) -> None:
    for sql in _NODE_DATA_SQL:
        cursor.execute(sql, [ids])
    cursor.execute("DELETE FROM inventory_node WHERE id = ANY(%s)", [ids])


def purge_nodes(
    ttl: dt.timedelta, *, now: dt.datetime | None = None, batch_size: int = 500, limit: int | None = None
) -> RunResult:
    """Delete nodes deactivated or expired more than ``ttl`` ago, with all their data, in batches
    of ``batch_size`` (at most ``limit`` nodes in this run, PuppetDB's ``batch_limit``). A node
    whose row another transaction holds (ingest reactivating it) is skipped."""
    started = time.perf_counter()
    result = RunResult("purge_nodes")
    if not ttl:
        return result
    now = now or timezone.now()
    cutoff = now - ttl
    while limit is None or result.count < limit:
        size = batch_size if limit is None else min(batch_size, limit - result.count)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    SELECT id FROM inventory_node
                    WHERE LEAST(deactivated, expired) < %s
                    ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
                    """,
                    [cutoff, size],
                )
                ids = [row[0] for row in cursor.fetchall()]
                if ids:
                    _delete_nodes(cursor, ids)
        result.count += len(ids)
        if len(ids) < size:
            break
    return _observe(result, started)


def delete_node(certname: str) -> bool:
    """Delete one node and all its data at once (admin ``delete``). True if it existed."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM inventory_node WHERE certname = %s FOR UPDATE", [certname])
            row = cursor.fetchone()
            if row is None:
                return False
            _delete_nodes(cursor, [row[0]])
    log.info("node deleted", extra={"certname": certname})
    return True


# --- catalogs --------------------------------------------------------------------------------


def resource_gc_guard_shared(cursor) -> None:
    """For the ingest transaction that stores a catalog: hold the resource GC guard in shared
    mode until commit, so the collector never deletes a resource or set between ingest finding
    it (``ON CONFLICT DO NOTHING``) and the new catalog referring to it. Cheap: many ingest
    transactions hold it at once; only a GC batch (short) waits for them and they for it."""
    cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [RESOURCE_GC_LOCK_KEY])


def gc_catalog_history(ttl: dt.timedelta, *, now: dt.datetime | None = None, batch_size: int = 500) -> RunResult:
    """Delete catalog versions no longer current whose ``valid_to`` is older than ``ttl``, then
    collect edge sets, resource sets and resources no remaining catalog refers to."""
    started = time.perf_counter()
    result = RunResult("gc_catalog_history")
    now = now or timezone.now()
    catalogs = 0
    if ttl:
        cutoff = now - ttl
        while True:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        """
                        DELETE FROM inventory_catalog WHERE id IN (
                            SELECT id FROM inventory_catalog
                            WHERE valid_to IS NOT NULL AND valid_to < %s
                            ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                        """,
                        [cutoff, batch_size],
                    )
                    deleted = cursor.rowcount
            catalogs += deleted
            if deleted < batch_size:
                break
    collected = collect_unreferenced(batch_size=batch_size)
    result.count = catalogs
    result.details = {"catalogs": catalogs, **collected}
    return _observe(result, started)


def collect_unreferenced(*, batch_size: int = 500, lock_timeout_ms: int = 1000) -> dict:
    """Delete edge sets, resource sets and then resources that nothing refers to any more.

    Sets have real foreign keys from catalogs: ``FOR UPDATE SKIP LOCKED`` skips a set an
    uncommitted catalog insert is referring to (it holds a key-share lock). Resources are only
    referred to from ``ResourceSet.resource_ids`` (an array), so each batch holds the resource
    GC guard exclusively (see :func:`resource_gc_guard_shared`).
    """
    counts = {"edge_sets": 0, "resource_sets": 0, "resources": 0, "resources_deferred": False}
    for key, sql in (
        (
            "edge_sets",
            """
            DELETE FROM inventory_edgeset WHERE id IN (
                SELECT es.id FROM inventory_edgeset es
                WHERE NOT EXISTS (SELECT 1 FROM inventory_catalog c WHERE c.edge_set_id = es.id)
                LIMIT %s FOR UPDATE SKIP LOCKED)
            """,
        ),
        (
            "resource_sets",
            """
            DELETE FROM inventory_resourceset WHERE id IN (
                SELECT rs.id FROM inventory_resourceset rs
                WHERE NOT EXISTS (SELECT 1 FROM inventory_catalog c WHERE c.resource_set_id = rs.id)
                LIMIT %s FOR UPDATE SKIP LOCKED)
            """,
        ),
        (
            "resources",
            """
            DELETE FROM inventory_resource WHERE id IN (
                SELECT r.id FROM inventory_resource r
                WHERE NOT EXISTS (
                    SELECT 1 FROM inventory_resourceset rs WHERE rs.resource_ids @> ARRAY[r.id])
                LIMIT %s FOR UPDATE SKIP LOCKED)
            """,
        ),
    ):
        while True:
            try:
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        if key == "resources":
                            # Wait for in-flight catalog stores briefly; ingest queued behind this
                            # wait is held up at most lock_timeout_ms. Busy: next run.
                            cursor.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
                            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESOURCE_GC_LOCK_KEY])
                        cursor.execute(sql, [batch_size])
                        deleted = cursor.rowcount
            except OperationalError:
                counts["resources_deferred"] = True
                log.info("resource GC deferred: catalog stores kept the guard busy")
                break
            counts[key] += deleted
            if deleted < batch_size:
                break
    return counts


# --- reports ---------------------------------------------------------------------------------


def purge_reports(
    ttl: dt.timedelta, *, now: dt.datetime | None = None, lock_timeout_ms: int = 2000, max_days: int | None = None
) -> RunResult:
    """Drop the day partitions of reports and events wholly older than ``ttl`` (a day is dropped
    when all of it is older than ``now - ttl``). Never a mass ``DELETE``.

    Each partition is first detached with ``DETACH PARTITION … CONCURRENTLY`` (which only takes a
    lock that does not conflict with inserts and queries on the parent) and then dropped, each
    statement under ``lock_timeout``: a day whose lock cannot be had in time is reported in
    ``skipped`` and left for the next run. Inside an enclosing transaction (where ``CONCURRENTLY``
    is not allowed) the partition is dropped directly, still under ``lock_timeout``.
    """
    started = time.perf_counter()
    result = RunResult("purge_reports")
    if not ttl:
        return result
    now = now or timezone.now()
    cutoff = (now - ttl).astimezone(dt.UTC).date()
    days = [day for day in partitions.existing_days() if day < cutoff]
    if max_days is not None:
        days = days[:max_days]
    dropped = []
    for day in days:
        try:
            _drop_day(day, lock_timeout_ms)
        except OperationalError as exc:
            log.warning("report partition busy, left for the next run", extra={"day": str(day), "error": str(exc)})
            result.skipped.append(str(day))
            continue
        dropped.append(str(day))
    partitions.forget_cache()
    result.count = len(dropped)
    result.details = {"days": dropped}
    return _observe(result, started)


def _pending_detach(cursor, child: str) -> bool:
    cursor.execute(
        "SELECT i.inhdetachpending FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname = %s",
        [child],
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _drop_day(day: dt.date, lock_timeout_ms: int) -> None:
    if connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            for table in partitions.PARTITIONED_TABLES:
                cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(table, day)}")
        return
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        previous = cursor.fetchone()[0]
        cursor.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        try:
            for table in partitions.PARTITIONED_TABLES:
                child = partitions.partition_name(table, day)
                cursor.execute("SELECT to_regclass(%s)", [child])
                if cursor.fetchone()[0] is None:
                    continue
                cursor.execute(
                    "SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname = %s", [child]
                )
                if cursor.fetchone() is not None:
                    if _pending_detach(cursor, child):
                        cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {child} FINALIZE")
                    else:
                        cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {child} CONCURRENTLY")
                cursor.execute(f"DROP TABLE IF EXISTS {child}")
        finally:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [previous])


# --- everything ------------------------------------------------------------------------------


# Every housekeeping operation, in the order a full pass runs them (``manage.py housekeeping``
# with no operation; beat schedules each as ``stagehand.housekeeping.<name>``).
OPERATIONS = ("expire_nodes", "purge_nodes", "purge_reports", "gc_catalog_history", "gc_packages", "gc_fact_paths")


def run_operation(name: str, policy: RetentionPolicy, **options) -> RunResult:
    """Run the operation ``name`` (one of :data:`OPERATIONS`) with ``policy``'s settings;
    ``options`` go to the operation (``purge_nodes``: ``limit``)."""
    if name == "expire_nodes":
        return expire_nodes(policy.node_ttl, batch_size=policy.batch_size, **options)
    if name == "purge_nodes":
        return purge_nodes(policy.node_purge_ttl, batch_size=policy.batch_size, **options)
    if name == "purge_reports":
        return purge_reports(policy.report_ttl, lock_timeout_ms=policy.lock_timeout_ms, **options)
    if name == "gc_catalog_history":
        return gc_catalog_history(policy.catalog_history_ttl, batch_size=policy.batch_size, **options)
    if name == "gc_packages":
        return gc_packages(batch_size=policy.batch_size, **options)
    if name == "gc_fact_paths":
        return gc_fact_paths(policy.fact_path_gc_grace, **options)
    raise ValueError(f"unknown housekeeping operation {name!r}; known: {list(OPERATIONS)}")


class CleanAlreadyRunning(Exception):
    pass


class clean_lock:  # noqa: N801 - used as a context manager
    """Session-level advisory lock: one clean at a time across every process."""

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [CLEAN_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise CleanAlreadyRunning("a clean is already running")
        return self

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [CLEAN_LOCK_KEY])
        return False


CLEAN_OPERATIONS = ("expire_nodes", "purge_nodes", "purge_reports", "gc_packages", "other")


def clean(operations: list, policy: RetentionPolicy | None = None) -> list[RunResult]:
    """PuppetDB's admin ``clean`` command: ``operations`` from :data:`CLEAN_OPERATIONS`, or
    ``["purge_nodes", {"batch_limit": n}]``; an empty list means all. Raises ``ValueError`` for
    an unknown operation and :class:`CleanAlreadyRunning` when another clean holds the lock."""
    policy = policy or RetentionPolicy.from_settings()
    plan: list[tuple[str, dict]] = []
    for op in operations or list(CLEAN_OPERATIONS):
        if isinstance(op, list) and len(op) == 2 and op[0] == "purge_nodes" and isinstance(op[1], dict):
            options = op[1]
            unknown = set(options) - {"batch_limit"}
            limit = options.get("batch_limit")
            if unknown or not (isinstance(limit, int) and not isinstance(limit, bool) and limit > 0):
                raise ValueError('purge_nodes options must be {"batch_limit": <positive integer>}')
            plan.append(("purge_nodes", {"limit": limit}))
        elif isinstance(op, str) and op in CLEAN_OPERATIONS:
            plan.append((op, {}))
        else:
            raise ValueError(f"unknown clean operation {op!r}; known: {list(CLEAN_OPERATIONS)}")
    results = []
    with clean_lock():
        for op, options in plan:
            # "other": catalog history and unreferenced resources, fact paths.
            for name in ("gc_catalog_history", "gc_fact_paths") if op == "other" else (op,):
                results.append(run_operation(name, policy, **options))
    return results


# --- fact paths ------------------------------------------------------------------------------

# Every (path, type) of the factsets whose node id is in [lo, hi): the merged document walked
# down through hashes and arrays, in PostgreSQL. Paths come back as JSON arrays (array indexes
# as numbers, as ``FactPath.path_key``); types as ``storage.facts.fact_paths`` names them.
_LIVE_PATHS_SQL = """
WITH RECURSIVE walk(path, value) AS (
    SELECT jsonb_build_array(e.key), e.value
    FROM inventory_factset fs CROSS JOIN LATERAL jsonb_each(fs.stable || fs.volatile) e
    WHERE fs.node_id >= %s AND fs.node_id < %s
  UNION ALL
    SELECT w.path || sub.segment, sub.value
    FROM walk w CROSS JOIN LATERAL (
        SELECT to_jsonb(o.key) AS segment, o.value
        FROM jsonb_each(CASE WHEN jsonb_typeof(w.value) = 'object' THEN w.value ELSE '{}'::jsonb END) o
      UNION ALL
        SELECT to_jsonb(a.n - 1), a.value
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.value) = 'array' THEN w.value ELSE '[]'::jsonb END)
             WITH ORDINALITY a(value, n)
    ) sub
    WHERE jsonb_typeof(w.value) IN ('object', 'array')
)
SELECT DISTINCT path::text,
       CASE jsonb_typeof(value)
           WHEN 'object' THEN 'hash'
           WHEN 'number' THEN CASE WHEN value::text ~ '[.eE]' THEN 'float' ELSE 'integer' END
           ELSE jsonb_typeof(value)
       END
FROM walk
"""


def _live_fact_paths(chunk: int) -> set[tuple[str, str]]:
    """The (path_key, value_type) pairs some factset holds now, walking ``chunk`` nodes per
    statement (each statement a consistent view of its nodes; no long transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(node_id), max(node_id) FROM inventory_factset")
        low, high = cursor.fetchone()
        live: set[tuple[str, str]] = set()
        if low is None:
            return live
        for start in range(low, high + 1, chunk):
            cursor.execute(_LIVE_PATHS_SQL, [start, start + chunk])
            live.update((orjson.dumps(orjson.loads(path)).decode(), kind) for path, kind in cursor.fetchall())
    return live


def gc_fact_paths(grace: dt.timedelta, *, now: dt.datetime | None = None, chunk: int = 1000) -> RunResult:
    """Forget fact paths that no factset holds any more (PuppetDB's fact-path GC), so that
    ``fact-names`` and ``fact-paths`` list what the fleet has.

    Mark and sweep: a path found in no factset is marked ``unused_since``; a later run deletes it
    once it has been marked for ``grace`` and is still found nowhere. Storing the path again
    (``storage.facts``) clears the mark, under a row lock the delete re-checks, and a path a
    still-open ingest transaction is adding is seen by the next run before its grace is over.
    A path some factset holds but no row names (an ingest that lost a race with a sweep) is
    written back, so every run leaves the table complete for what it walked.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    live = _live_fact_paths(chunk)
    marked = unmarked = deleted = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, path_key, value_type, unused_since FROM inventory_factpath")
        rows = cursor.fetchall()
        known = {(key, kind) for _, key, kind, _ in rows}
        dead_ids, revived_ids, stale = [], [], []  # unused; marked but used again; marked for the grace
        for i, key, kind, since in rows:
            if (key, kind) in live:
                if since is not None:
                    revived_ids.append(i)
                continue
            dead_ids.append(i)
            if since is not None and since <= now - grace:
                stale.append(i)
        # Paths a factset holds but no row names (an ingest lost a race with an earlier sweep).
        missing = [facts_storage.path_row(orjson.loads(key), kind, key) for key, kind in live - known]
        if revived_ids:
            cursor.execute("UPDATE inventory_factpath SET unused_since = NULL WHERE id = ANY(%s)", [revived_ids])
            unmarked = cursor.rowcount
        if dead_ids:
            cursor.execute(
                "UPDATE inventory_factpath SET unused_since = %s WHERE id = ANY(%s) AND unused_since IS NULL",
                [now, dead_ids],
            )
            marked = cursor.rowcount
        if stale:
            cursor.execute(
                "DELETE FROM inventory_factpath WHERE id = ANY(%s) AND unused_since <= %s", [stale, now - grace]
            )
            deleted = cursor.rowcount
        for batch in range(0, len(missing), 5000):
            facts_storage.upsert_paths(cursor, missing[batch : batch + 5000], now)
    facts_storage.forget_paths()
    result = RunResult(
        "gc_fact_paths",
        count=deleted,
        details={"marked": marked, "unmarked": unmarked, "restored": len(missing), "live": len(live)},
    )
    return _observe(result, started)


def gc_packages(*, batch_size: int = 500) -> RunResult:
    """Delete packages no factset refers to any more."""
    started = time.perf_counter()
    result = RunResult("gc_packages")
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                DELETE FROM inventory_package WHERE id IN (
                    SELECT p.id FROM inventory_package p
                    WHERE NOT EXISTS (SELECT 1 FROM inventory_factset f WHERE f.package_ids @> ARRAY[p.id])
                    LIMIT %s FOR UPDATE SKIP LOCKED)
                """,
                [batch_size],
            )
            deleted = cursor.rowcount
        result.count += deleted
        if deleted < batch_size:
            break
    return _observe(result, started)
