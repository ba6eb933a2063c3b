"""Store a ``store report`` command: the report row with summary columns, metrics and logs as
JSONB, one row per resource event (both in day partitions), and the node's latest_* columns.

A report whose PuppetDB hash is already stored is skipped. The same run arriving twice (the
``puppetdb`` terminus and the ``http`` processor: same certname and ``transaction_uuid``) is
stored once: the richer of the two (more resources + logs + metrics) is kept.

The caller must have called ``reports.partitions.ensure_for(producer_timestamp)`` before opening
its transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson

from inventory import signals
from inventory.storage import events
from inventory.storage.nodes import REACTIVATE_SQL, environment_id, lock_node, producer_id


def _ts(value: dt.datetime) -> str:
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def report_hash(cmd: dict) -> str:
    """PuppetDB's report hash: sha1 over the sorted JSON of the identifying fields."""
    doc = {
        "certname": cmd["certname"],
        "puppet_version": cmd["puppet_version"],
        "report_format": cmd["report_format"],
        "configuration_version": cmd["configuration_version"],
        "start_time": _ts(cmd["start_time"]),
        "end_time": _ts(cmd["end_time"]),
        "producer_timestamp": _ts(cmd["producer_timestamp"]),
        "transaction_uuid": cmd["transaction_uuid"],
    }
    return hashlib.sha1(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def richness(cmd: dict) -> int:
    return len(cmd["resources"]) + len(cmd["logs"]) + len(cmd["metrics"])


def _metric(metrics: list[dict], category: str, name: str):
    for m in metrics:
        if m.get("category") == category and m.get("name") == name:
            return m.get("value")
    return None


def _int(value) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def containing_class(path: list[str] | None) -> str | None:
    """The nearest class in a containment path (an element that is not ``Type[title]``)."""
    for element in reversed(path or []):
        if "[" not in element:
            return element
    return None


_REPORT_COLUMNS = (
    "hash, node_id, certname, environment_id, producer_id, transaction_uuid, catalog_uuid, code_id, job_id, "
    "configuration_version, puppet_version, report_format, start_time, end_time, producer_timestamp, "
    "receive_time, status, noop, noop_pending, corrective_change, cached_catalog_status, type, source, "
    "resources_total, resources_changed, resources_failed, resources_out_of_sync, resources_skipped, "
    "events_success, events_failure, events_noop, run_duration, metrics, logs, resources"
)


def store_report(cursor, cmd: dict, now: dt.datetime, source: str = "puppetdb") -> str:
    node = lock_node(cursor, cmd["certname"])
    digest = report_hash(cmd)
    pt = cmd["producer_timestamp"]
    cursor.execute(
        "SELECT id, producer_timestamp, hash, jsonb_array_length(logs) + jsonb_array_length(metrics) + "
        "COALESCE(jsonb_array_length(resources), 0) FROM reports_report "
        "WHERE node_id = %s AND (hash = %s OR (transaction_uuid IS NOT NULL AND transaction_uuid = %s))",
        [node.id, digest, cmd["transaction_uuid"]],
    )
    existing = cursor.fetchall()
    replaced = None
    for rid, rts, rhash, rich in existing:
        if rhash == digest or rich >= richness(cmd):
            return "duplicate"
        replaced = (rid, rts)
    if replaced is not None:  # the same run stored less richly: keep this one instead
        cursor.execute("DELETE FROM reports_resourceevent WHERE report_id = %s AND report_timestamp = %s", [*replaced])
        cursor.execute("DELETE FROM reports_report WHERE id = %s AND producer_timestamp = %s", [*replaced])
    env_id = environment_id(cursor, cmd["environment"])
    prod_id = producer_id(cursor, cmd["producer"])
    metrics = cmd["metrics"]
    events = []
    resources = []
    for res in cmd["resources"]:
        resources.append({k: v for k, v in res.items() if k != "events"})
        cls = containing_class(res["containment_path"])
        for ev in res["events"]:
            events.append(
                {
                    "status": ev["status"],
                    "timestamp": ev["timestamp"].isoformat(),
                    "resource_type": res["resource_type"],
                    "resource_title": res["resource_title"],
                    "property": ev["property"],
                    "name": ev["name"],
                    "old_value": ev["old_value"],
                    "new_value": ev["new_value"],
                    "message": ev["message"],
                    "file": res["file"],
                    "line": res["line"],
                    "containment_path": res["containment_path"],
                    "containing_class": cls,
                    "corrective_change": ev["corrective_change"],
                }
            )
    summary = [
        _int(_metric(metrics, "resources", "total")),
        _int(_metric(metrics, "resources", "changed")),
        _int(_metric(metrics, "resources", "failed")),
        _int(_metric(metrics, "resources", "out_of_sync")),
        _int(_metric(metrics, "resources", "skipped")),
        _int(_metric(metrics, "events", "success")),
        _int(_metric(metrics, "events", "failure")),
        _int(_metric(metrics, "events", "noop")),
    ]
    total_time = _metric(metrics, "time", "total")
    run_duration = float(total_time) if isinstance(total_time, int | float) else None
    has_resources = bool(resources)
    values = [
        digest,
        node.id,
        cmd["certname"],
        env_id,
        prod_id,
        cmd["transaction_uuid"],
        cmd["catalog_uuid"],
        cmd["code_id"],
        cmd["job_id"],
        cmd["configuration_version"],
        cmd["puppet_version"],
        cmd["report_format"],
        cmd["start_time"],
        cmd["end_time"],
        pt,
        now,
        cmd["status"],
        cmd["noop"],
        cmd["noop_pending"],
        cmd["corrective_change"],
        cmd["cached_catalog_status"],
        cmd["type"],
        source,
        *summary,
        run_duration,
        orjson.dumps(metrics).decode(),
        orjson.dumps(cmd["logs"]).decode(),
        orjson.dumps(resources, default=str).decode() if has_resources else None,
    ]
    cursor.execute(
        f"INSERT INTO reports_report ({_REPORT_COLUMNS}) VALUES ("
        + ", ".join(["%s"] * 32)
        + ", %s::jsonb, %s::jsonb, %s::jsonb) RETURNING id",
        values,
    )
    report_id = cursor.fetchone()[0]
    if events:
        cursor.execute(
            "INSERT INTO reports_resourceevent (report_id, report_timestamp, node_id, certname, environment_id, "
            "status, timestamp, resource_type, resource_title, property, name, old_value, new_value, message, "
            "file, line, containment_path, containing_class, corrective_change) "
            "SELECT %s, %s, %s, %s, %s, x.status, x.timestamp, x.resource_type, x.resource_title, x.property, "
            "x.name, x.old_value, x.new_value, x.message, x.file, x.line, "
            "CASE WHEN jsonb_typeof(x.containment_path) = 'array' "
            "THEN ARRAY(SELECT jsonb_array_elements_text(x.containment_path)) END, "
            "x.containing_class, x.corrective_change "
            "FROM jsonb_to_recordset(%s::jsonb) AS x(status text, timestamp timestamptz, resource_type text, "
            "resource_title text, property text, name text, old_value jsonb, new_value jsonb, message text, "
            "file text, line integer, containment_path jsonb, containing_class text, corrective_change boolean)",
            [report_id, pt, node.id, cmd["certname"], env_id, orjson.dumps(events).decode()],
        )
    previous_status = node.latest_report_status
    is_latest = cmd["type"] == "agent" and (
        node.report_timestamp is None
        or pt >= node.report_timestamp
        or (replaced is not None and replaced[0] == node.latest_report_id)
    )
    if is_latest:
        cursor.execute(
            "UPDATE inventory_node SET report_timestamp = %s, latest_report_end_time = %s, "
            "report_environment_id = %s, latest_report_id = %s, "
            "latest_report_hash = %s, latest_report_status = %s, latest_report_noop = %s, "
            "latest_report_noop_pending = %s, latest_report_corrective_change = %s, latest_report_job_id = %s, "
            "latest_report_code_id = %s, latest_report_configuration_version = %s, "
            f"latest_report_transaction_uuid = %s, cached_catalog_status = %s, {REACTIVATE_SQL} WHERE id = %s",
            [
                pt,
                cmd["end_time"],
                env_id,
                report_id,
                digest,
                cmd["status"],
                cmd["noop"],
                cmd["noop_pending"],
                cmd["corrective_change"],
                cmd["job_id"],
                cmd["code_id"],
                cmd["configuration_version"],
                cmd["transaction_uuid"],
                cmd["cached_catalog_status"],
                pt,
                node.id,
            ],
        )
    else:
        cursor.execute(f"UPDATE inventory_node SET {REACTIVATE_SQL} WHERE id = %s", [pt, node.id])
    _send_signals(report_id, values, node.id, previous_status, cmd["status"] if is_latest else None)
    return "replaced" if replaced else "stored"


def _report_instance(report_id: int, values: list):
    """The stored report as a model instance, built from the inserted values (no query)."""
    from reports.models import Report

    fields = dict(zip([c.strip() for c in _REPORT_COLUMNS.split(",")], values, strict=True))
    for key in ("metrics", "logs", "resources"):
        fields[key] = orjson.loads(fields[key]) if fields[key] is not None else None
    return Report(id=report_id, **fields)


def _send_signals(
    report_id: int, values: list, node_id: int, previous_status: str | None, new_status: str | None
) -> None:
    from inventory.models import Node
    from reports.models import Report

    wants_stored = signals.report_stored.has_listeners()
    wants_changed = (
        new_status is not None and new_status != previous_status and signals.node_status_changed.has_listeners()
    )
    if not (wants_stored or wants_changed):
        return
    report = _report_instance(report_id, values)
    if wants_stored:
        events.emit(signals.report_stored, Report, node_id=node_id, report=report, previous_status=previous_status)
    if wants_changed:
        events.emit(
            signals.node_status_changed,
            Node,
            node_id=node_id,
            previous_status=previous_status,
            status=new_status,
            report=report,
        )
