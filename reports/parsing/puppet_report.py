"""Puppet's own report shape (``Puppet::Transaction::Report``, formats 4-12, as YAML from the
``http`` report processor or as JSON from ``to_data_hash``) converted to PuppetDB's
``store report`` v8 wire shape, the way the ``puppetdb`` terminus converts it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from ingest.commands import CommandError, parse_time
from inventory.redaction import redact_event  # ops: sensitive values never stored
from reports.parsing.yaml_loader import YamlError, iso, load_yaml

EVENT_STATUSES = {"success", "failure", "noop"}


class ReportParseError(ValueError):
    pass


def _metrics(raw: Any) -> list[dict]:
    """``{category: {name, label, values: [[name, label, value], ...]}}`` -> PuppetDB's list."""
    out: list[dict] = []
    if isinstance(raw, list):  # already PuppetDB-shaped
        return [m for m in raw if isinstance(m, dict)]
    if not isinstance(raw, dict):
        return out
    for category, metric in raw.items():
        values = metric.get("values") if isinstance(metric, dict) else None
        for row in values or []:
            if isinstance(row, list | tuple) and len(row) >= 3 and isinstance(row[2], int | float):
                out.append({"category": str(category), "name": str(row[0]), "value": row[2]})
    return out


def _metric(metrics: list[dict], category: str, name: str) -> float | None:
    for m in metrics:
        if m["category"] == category and m["name"] == name:
            return m["value"]
    return None


def _log(log: dict) -> dict:
    tags = log.get("tags") or []
    return {
        "file": log.get("file"),
        "line": log.get("line"),
        "level": str(log.get("level") or "notice"),
        "message": str(log.get("message") if log.get("message") is not None else ""),
        "source": str(log.get("source") or ""),
        "tags": [str(t) for t in tags],
        "time": iso(log.get("time")),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _resource(key: str, status: dict, default_time: str | None) -> dict | None:
    if not isinstance(status, dict):
        return None
    rtype = status.get("resource_type")
    title = status.get("title")
    if rtype is None or title is None:
        # Old formats: only "resource" => "Type[title]".
        resource = str(status.get("resource") or key)
        if "[" in resource and resource.endswith("]"):
            rtype, title = resource.split("[", 1)
            title = title[:-1]
        else:
            return None
    timestamp = iso(status.get("time")) or default_time
    events = []
    for e in status.get("events") or []:
        if not isinstance(e, dict) or str(e.get("status")) not in EVENT_STATUSES:
            continue  # "audit" events are not stored, as in PuppetDB
        events.append(
            {
                "status": str(e["status"]),
                "timestamp": iso(e.get("time")) or timestamp,
                "name": None if e.get("name") is None else str(e.get("name")),
                "property": None if e.get("property") is None else str(e.get("property")),
                "new_value": _jsonable(e.get("desired_value")),
                "old_value": _jsonable(e.get("previous_value")),
                "message": None if e.get("message") is None else str(e.get("message")),
                "corrective_change": e.get("corrective_change")
                if isinstance(e.get("corrective_change"), bool)
                else None,
            }
        )
        redact_event(e, events[-1])  # ops: sensitive values never stored
    line = status.get("line")
    return {
        "resource_type": str(rtype),
        "resource_title": str(title),
        "timestamp": timestamp,
        "skipped": bool(status.get("skipped")),
        "file": None if status.get("file") is None else str(status.get("file")),
        "line": line if isinstance(line, int) and not isinstance(line, bool) else None,
        "containment_path": [str(x) for x in status.get("containment_path") or []] or None,
        "corrective_change": status.get("corrective_change")
        if isinstance(status.get("corrective_change"), bool)
        else None,
        "events": events,
    }


def puppet_report_to_wire(doc: Any) -> dict:
    """Convert a decoded Puppet report (any format 4-12) to PuppetDB's v8 report payload."""
    if not isinstance(doc, dict):
        raise ReportParseError("the report must be a mapping (a Puppet::Transaction::Report)")
    if "certname" in doc and "resources" in doc and "host" not in doc:
        return _jsonable(doc)  # already PuppetDB's wire format
    host = doc.get("host")
    if not isinstance(host, str) or not host:
        raise ReportParseError("the report has no 'host'")
    fmt = doc.get("report_format")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise ReportParseError("the report has no integer 'report_format'")
    if fmt < 4 or fmt > 12:
        raise ReportParseError(f"report_format {fmt} is not supported (4 to 12 are)")
    start = iso(doc.get("time"))
    if start is None:
        raise ReportParseError("the report has no 'time'")
    metrics = _metrics(doc.get("metrics"))
    try:
        start_dt = parse_time(start, "time")
    except CommandError as exc:
        raise ReportParseError(str(exc)) from None
    total = _metric(metrics, "time", "total") or 0
    end = (start_dt + dt.timedelta(seconds=float(total))).isoformat()
    resources = []
    statuses = doc.get("resource_statuses") or {}
    if isinstance(statuses, dict):
        for key, status in statuses.items():
            res = _resource(str(key), status, start)
            if res is not None:
                resources.append(res)
    status = doc.get("status")
    if status not in ("changed", "unchanged", "failed"):
        failed = (_metric(metrics, "resources", "failed") or 0) + (_metric(metrics, "events", "failure") or 0)
        changed = _metric(metrics, "resources", "changed") or 0
        status = "failed" if failed else ("changed" if changed else "unchanged")
    cached = doc.get("cached_catalog_status")
    return {
        "certname": host,
        "environment": str(doc.get("environment") or "production"),
        "puppet_version": str(doc.get("puppet_version") or ""),
        "report_format": fmt,
        "configuration_version": str(doc.get("configuration_version") or ""),
        "start_time": start,
        "end_time": end,
        "producer_timestamp": end,
        "producer": None,
        "transaction_uuid": None if doc.get("transaction_uuid") is None else str(doc.get("transaction_uuid")),
        "catalog_uuid": None if doc.get("catalog_uuid") is None else str(doc.get("catalog_uuid")),
        "code_id": None if doc.get("code_id") is None else str(doc.get("code_id")),
        "job_id": None if doc.get("job_id") is None else str(doc.get("job_id")),
        "cached_catalog_status": str(cached) if cached is not None else None,
        "status": status,
        "noop": bool(doc.get("noop", False)),
        "noop_pending": doc.get("noop_pending") if isinstance(doc.get("noop_pending"), bool) else None,
        "corrective_change": doc.get("corrective_change") if isinstance(doc.get("corrective_change"), bool) else None,
        "type": "agent",
        "metrics": metrics,
        "logs": [_log(x) for x in doc.get("logs") or [] if isinstance(x, dict)],
        "resources": resources,
    }


def parse_report_body(body: bytes, fmt: str, *, max_nodes: int = 5_000_000) -> dict:
    """Decode an uploaded report (``fmt`` is ``yaml`` or ``json``) into PuppetDB's v8 payload."""
    if fmt == "yaml":
        try:
            doc = load_yaml(body, max_nodes=max_nodes)
        except YamlError as exc:
            raise ReportParseError(str(exc)) from None
    else:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ReportParseError(f"malformed JSON: {exc}") from None
    return puppet_report_to_wire(doc)
