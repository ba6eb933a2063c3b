"""Recording domain events: the history table, NOTIFY, and the fan-out to webhooks.

``record`` runs inside the ingest transaction (the signal receivers call it). It inserts the
history row (its stream position ``seq`` is stamped at COMMIT by a deferred trigger, in commit
order: see ``models.Event``), sends ``NOTIFY stagehand_events`` (delivered by PostgreSQL only if
and when the transaction commits) and creates the webhook delivery rows, whose sending is queued
with ``transaction.on_commit``.
"""

from __future__ import annotations

import logging

import orjson
from django.db import connection, transaction

from reports.orchestration.models import Event, EventKind

log = logging.getLogger(__name__)

CHANNEL = "stagehand_events"

FAILED, CHANGED, UNCHANGED, NOOP = "failed", "changed", "unchanged", "noop"
RUN_STATUSES = (CHANGED, UNCHANGED, FAILED, NOOP)


def run_status(status: str | None, noop: bool | None, noop_pending: bool | None) -> str | None:
    """The status an operator means: ``failed``, ``noop`` (a noop run with pending changes),
    ``changed`` or ``unchanged``."""
    if status is None:
        return None
    if status == FAILED:
        return FAILED
    if noop and noop_pending:
        return NOOP
    return status


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def record(kind: str, *, certname: str = "", environment: str = "", status: str = "", code_id: str = "", data: dict):
    """Append one event (inside the caller's transaction) and fan it out. Returns the Event.

    One round trip inserts the row and queues the NOTIFY (PostgreSQL delivers it on commit)."""
    event = Event(
        kind=kind,
        certname=certname or "",
        environment=environment or "",
        status=status or "",
        code_id=code_id or "",
        data=data,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH e AS (INSERT INTO reports_event (kind, certname, environment, status, code_id, data, created) "
            "VALUES (%s, %s, %s, %s, %s, %s::jsonb, now()) RETURNING id, created) "
            "SELECT id, created, pg_notify(%s, id || ' ' || %s || ' ' || %s) FROM e",
            [
                event.kind,
                event.certname,
                event.environment,
                event.status,
                event.code_id,
                orjson.dumps(data).decode(),
                CHANNEL,
                kind,
                certname or "-",
            ],
        )
        event.id, event.created, _ = cursor.fetchone()
    event._state.adding = False
    from reports.orchestration import webhooks

    webhooks.fan_out(event)
    return event


def _guarded(fn):
    """Run a receiver in a savepoint: a failure to record an event is logged and never breaks (or
    rolls back) the ingest transaction that sent the signal."""

    def receiver(sender=None, **kwargs):
        try:
            with transaction.atomic():
                fn(**kwargs)
        except Exception:  # noqa: BLE001 - must not break ingest
            log.exception("hooks: could not record %s event", fn.__name__)

    receiver.__name__ = fn.__name__
    return receiver


_environment_names: dict[int, str] = {}  # environments are never renamed: cache id -> name


def _environment_name(obj, attr: str) -> str:
    env_id = getattr(obj, f"{attr}_id", None)
    if env_id is None:
        return ""
    name = _environment_names.get(env_id)
    if name is None:
        name = getattr(obj, attr).name
        if len(_environment_names) < 10000:
            _environment_names[env_id] = name
    return name


def report_data(report, node=None, previous_status=None) -> dict:
    status = run_status(report.status, report.noop, report.noop_pending)
    return {
        "certname": report.certname,
        "report_id": report.id,
        "report_hash": report.hash,
        "status": status,
        "report_status": report.status,
        "previous_status": previous_status,
        "noop": report.noop,
        "noop_pending": report.noop_pending,
        "corrective_change": report.corrective_change,
        "environment": _environment_name(report, "environment"),
        "code_id": report.code_id,
        "configuration_version": report.configuration_version,
        "catalog_uuid": report.catalog_uuid,
        "transaction_uuid": report.transaction_uuid,
        "job_id": report.job_id,
        "cached_catalog_status": report.cached_catalog_status,
        "start_time": _iso(report.start_time),
        "end_time": _iso(report.end_time),
        "producer_timestamp": _iso(report.producer_timestamp),
        "receive_time": _iso(report.receive_time),
        "run_duration": report.run_duration,
        "counts": {
            "resources_total": report.resources_total,
            "resources_changed": report.resources_changed,
            "resources_failed": report.resources_failed,
            "resources_out_of_sync": report.resources_out_of_sync,
            "resources_skipped": report.resources_skipped,
            "events_success": report.events_success,
            "events_failure": report.events_failure,
            "events_noop": report.events_noop,
        },
    }


@_guarded
def on_report_stored(report, node=None, previous_status=None, **_):
    data = report_data(report, node, previous_status)
    record(
        EventKind.REPORT_STORED,
        certname=report.certname,
        environment=data["environment"],
        status=data["status"],
        code_id=report.code_id or "",
        data=data,
    )


@_guarded
def on_node_status_changed(node, previous_status=None, status=None, report=None, **_):
    environment = _environment_name(report, "environment") if report is not None else ""
    code_id = (report.code_id if report is not None else node.latest_report_code_id) or ""
    new_status = (
        run_status(report.status, report.noop, report.noop_pending) if report is not None and status else status
    )
    record(
        EventKind.NODE_STATUS_CHANGED,
        certname=node.certname,
        environment=environment,
        status=new_status or "",
        code_id=code_id,
        data={
            "certname": node.certname,
            "previous_status": previous_status,
            "status": new_status,
            "report_status": status,
            "report_hash": report.hash if report is not None else None,
            "report_id": report.id if report is not None else None,
            "environment": environment,
            "code_id": code_id or None,
        },
    )


@_guarded
def on_node_deactivated(node, reason="deactivated", **_):
    environment = _environment_name(node, "report_environment") or _environment_name(node, "catalog_environment")
    record(
        EventKind.NODE_DEACTIVATED,
        certname=node.certname,
        environment=environment,
        status=reason,
        data={
            "certname": node.certname,
            "reason": reason,
            "deactivated": _iso(node.deactivated),
            "expired": _iso(node.expired),
            "environment": environment or None,
        },
    )


@_guarded
def on_command_dead(command, **_):
    record(
        EventKind.COMMAND_DEAD,
        certname=command.certname,
        data={
            "certname": command.certname,
            "command_uuid": str(command.uuid),
            "command": command.command,
            "version": command.version,
            "attempts": command.attempts,
            "error": (command.last_error or "")[:2000],
            "received_at": _iso(command.received_at),
            "producer_timestamp": _iso(command.producer_timestamp),
        },
    )


def connect() -> None:
    from inventory import signals

    signals.report_stored.connect(on_report_stored, dispatch_uid="hooks.report_stored")
    signals.node_status_changed.connect(on_node_status_changed, dispatch_uid="hooks.node_status_changed")
    signals.node_deactivated.connect(on_node_deactivated, dispatch_uid="hooks.node_deactivated")
    signals.command_dead.connect(on_command_dead, dispatch_uid="hooks.command_dead")


def prune(max_rows: int, max_age_hours: int) -> int:
    """Keep at most ``max_rows`` events, none older than ``max_age_hours``. Returns rows deleted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM reports_event WHERE id <= (SELECT max(id) FROM reports_event) - %s "
            "OR created < now() - make_interval(hours => %s)",
            [max_rows, max_age_hours],
        )
        return cursor.rowcount
