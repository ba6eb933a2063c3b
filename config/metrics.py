"""Prometheus metrics: the metric objects every area increments, the ``/metrics`` view, the
request middleware and the inbox collector.

Metric objects (import ``from config import metrics`` and call them; all are cheap):

==========================================  =========  =========================================
name                                        labels     who increments it
==========================================  =========  =========================================
``stagehand_http_requests_total``           service, route, method, status — MetricsMiddleware
``stagehand_http_request_duration_seconds`` service, route, method        — MetricsMiddleware
``stagehand_commands_received_total``       command, source  — ingest receiver (``COMMANDS_RECEIVED``)
``stagehand_commands_processed_total``      command, outcome — worker, once per command applied:
                                            outcome ``done`` or ``superseded`` (``COMMANDS_PROCESSED``)
``stagehand_commands_failed_total``         command — worker, a try failed, will retry (``COMMANDS_FAILED``)
``stagehand_commands_dead_total``           command — worker, last try failed (``COMMANDS_DEAD``)
``stagehand_command_processing_seconds``    command — worker, time to apply one command
                                            (``COMMAND_PROCESSING_SECONDS``)
``stagehand_enc_classifications_total``     outcome (ok, conflict, error) — ENC view
``stagehand_enc_classification_seconds``    —  ENC view (``ENC_CLASSIFICATION_SECONDS``)
``stagehand_retention_runs_total``          operation — inventory.retention
``stagehand_retention_rows_total``          operation — rows/partitions removed
``stagehand_retention_skipped_total``       operation — partitions left for later (lock busy)
``stagehand_retention_duration_seconds``    operation
``stagehand_inbox_pending_commands``        command — collected at scrape time from the inbox
``stagehand_inbox_oldest_pending_age_seconds``  — age of the oldest pending command (0 if none)
``stagehand_inbox_dead_commands``           command — dead commands kept in the inbox
==========================================  =========  =========================================

Processes with several worker processes (gunicorn workers, Celery's prefork pool) use
prometheus-client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is prepared by
``config.metrics_bootstrap`` before this module is imported, and ``/metrics`` (or the worker's
metrics server on ``WORKER_METRICS_PORT``) aggregates every process's values.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "stagehand_http_requests_total", "HTTP requests answered", ["service", "route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "stagehand_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "route", "method"],
    buckets=LATENCY_BUCKETS,
)
COMMANDS_RECEIVED = Counter(
    "stagehand_commands_received_total", "Commands committed to the inbox", ["command", "source"]
)
COMMANDS_PROCESSED = Counter(
    "stagehand_commands_processed_total", "Commands applied by a worker", ["command", "outcome"]
)
COMMANDS_FAILED = Counter("stagehand_commands_failed_total", "Command tries that failed (retried)", ["command"])
COMMANDS_DEAD = Counter("stagehand_commands_dead_total", "Commands that failed on their last try", ["command"])
COMMAND_PROCESSING_SECONDS = Histogram(
    "stagehand_command_processing_seconds", "Time to apply one command", ["command"], buckets=LATENCY_BUCKETS
)
ENC_CLASSIFICATIONS = Counter("stagehand_enc_classifications_total", "ENC classifications", ["outcome"])
ENC_CLASSIFICATION_SECONDS = Histogram(
    "stagehand_enc_classification_seconds", "Time to classify one node", buckets=LATENCY_BUCKETS
)
RETENTION_RUNS = Counter("stagehand_retention_runs_total", "Retention operations run", ["operation"])
RETENTION_ROWS = Counter(
    "stagehand_retention_rows_total", "Rows (or day partitions) removed by retention", ["operation"]
)
RETENTION_SKIPPED = Counter(
    "stagehand_retention_skipped_total", "Partitions left for the next run (lock busy)", ["operation"]
)
RETENTION_DURATION = Histogram(
    "stagehand_retention_duration_seconds",
    "Duration of one retention operation",
    ["operation"],
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900),
)


class InboxCollector:
    """Inbox depth, age of the oldest pending command and dead commands, read from the
    database at scrape time (one cheap query on the partial pending index)."""

    def collect(self):
        from django.db import connection

        pending = GaugeMetricFamily(
            "stagehand_inbox_pending_commands", "Commands waiting in the inbox", labels=["command"]
        )
        dead = GaugeMetricFamily("stagehand_inbox_dead_commands", "Dead commands kept in the inbox", labels=["command"])
        oldest = GaugeMetricFamily(
            "stagehand_inbox_oldest_pending_age_seconds", "Age of the oldest pending command (0 when none)"
        )
        up = GaugeMetricFamily("stagehand_inbox_scrape_ok", "1 when the inbox could be read")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT command, state, count(*), "
                    "EXTRACT(EPOCH FROM clock_timestamp() - min(received_at)) FROM ingest_command "
                    "WHERE state IN ('pending', 'dead') GROUP BY command, state"
                )
                rows = cursor.fetchall()
        except Exception:  # noqa: BLE001 - a scrape must still answer when the database is down
            up.add_metric([], 0)
            yield up
            return
        age = 0.0
        for command, state, count, seconds in rows:
            if state == "pending":
                pending.add_metric([command], count)
                age = max(age, float(seconds or 0))
            else:
                dead.add_metric([command], count)
        oldest.add_metric([], age)
        up.add_metric([], 1)
        yield from (pending, dead, oldest, up)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def process_registry() -> CollectorRegistry:
    """The registry with this service's own metrics (all processes' in multiprocess mode)."""
    if multiprocess_enabled():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def render(include_inbox: bool = True) -> bytes:
    output = generate_latest(process_registry())
    if include_inbox:
        inbox = CollectorRegistry(auto_describe=False)
        inbox.register(InboxCollector())
        output += generate_latest(inbox)
    return output


def metrics_view(request):
    """``GET /metrics`` (Prometheus text format)."""
    from django.http import HttpResponse

    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Count every request by route pattern (not the raw path: bounded label values) and
    status, and observe its latency."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.service = getattr(settings, "SERVICE", "-")

    def __call__(self, request):
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            route = _route(request)
            method = request.method if request.method in _METHODS else "other"
            HTTP_REQUESTS.labels(self.service, route, method, str(status)).inc()
            HTTP_LATENCY.labels(self.service, route, method).observe(time.perf_counter() - started)


def observe_classification(view):
    """Decorator for the ENC view: count classifications by outcome (ok, conflict, rejected,
    error) and observe their latency."""
    import functools

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        started = time.perf_counter()
        outcome = "error"
        try:
            response = view(request, *args, **kwargs)
            code = response.status_code
            outcome = "ok" if code < 300 else ("conflict" if code == 409 else ("rejected" if code < 500 else "error"))
            return response
        finally:
            ENC_CLASSIFICATIONS.labels(outcome=outcome).inc()
            if outcome in ("ok", "conflict"):
                ENC_CLASSIFICATION_SECONDS.observe(time.perf_counter() - started)

    return wrapper


def record_batch(names: dict, updates: dict) -> None:
    """Count a committed ingest batch: ``names`` {command id: command name}, ``updates``
    {command id: {"state": done|superseded|pending|dead, ...}} (pending = a failed try)."""
    for cid, update in updates.items():
        command = names.get(cid, "unknown")
        state = update.get("state")
        if state in ("done", "superseded"):
            COMMANDS_PROCESSED.labels(command=command, outcome=state).inc()
        elif state == "dead":
            COMMANDS_DEAD.labels(command=command).inc()
        elif state == "pending":
            COMMANDS_FAILED.labels(command=command).inc()


def _route(request) -> str:
    """The URL pattern that matched (bounded cardinality), also for a request refused before
    its view was resolved; ``unmatched`` for a 404."""
    from django.urls import Resolver404, resolve

    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return "unmatched"
    return "/" + match.route if match.route else "unmatched"


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
