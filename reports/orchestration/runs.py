"""Run completion: "have the selected nodes run (the new code), and how did it go?"

A node is *done* when its latest report satisfies the condition: produced after
``reported_after`` (the report's ``producer_timestamp``) and, when given, with that ``code_id``,
``catalog_uuid`` and/or ``configuration_version``. Done nodes carry the run status (``failed``,
``changed``, ``unchanged``, or ``noop`` for a noop run with pending changes), the report link,
and for failures the failed resources and error messages.

``wait`` is bounded by its timeout, evaluates with two indexed queries (nodes by id, their
latest reports by id with the time bound pruning partitions), and between evaluations gives the
database connection back and sleeps on the process's LISTEN hub (``notify``), waking only for
notifications about a node it still waits for (or every ``HOOKS_SAFETY_POLL_SECONDS``; every
``HOOKS_POLL_SECONDS`` while the listener is not connected).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.dateparse import parse_datetime

from inventory.models import Node
from reports.models import Report, ResourceEvent
from reports.orchestration import notify
from reports.orchestration.events import FAILED, RUN_STATUSES, run_status
from reports.orchestration.selection import Selection, SelectionError, parse_query

ERROR_LOG_LEVELS = {"err", "alert", "emerg", "crit"}
MAX_FAILED_RESOURCES = 50
MAX_ERRORS = 20
CHUNK = 10000


def parse_timestamp(value, field_name: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    text = str(value).strip()
    try:
        return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
    except ValueError:
        pass
    parsed = parse_datetime(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if parsed is None:
        raise SelectionError(field_name, f"not an ISO 8601 timestamp or epoch seconds: {text!r}")
    if parsed.tzinfo is None:
        raise SelectionError(field_name, "the timestamp needs a time zone (e.g. a trailing Z)")
    return parsed


@dataclass
class Condition:
    reported_after: dt.datetime | None = None
    code_id: str | None = None
    catalog_uuid: str | None = None
    configuration_version: str | None = None

    def is_empty(self) -> bool:
        return not (self.reported_after or self.code_id or self.catalog_uuid or self.configuration_version)

    def describe(self) -> dict:
        out = {}
        if self.reported_after:
            out["reported_after"] = self.reported_after.isoformat().replace("+00:00", "Z")
        for name in ("code_id", "catalog_uuid", "configuration_version"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        return out


@dataclass
class WaitRequest:
    selection: Selection
    condition: Condition
    timeout: float = 0.0
    fail_fast: bool = False


def _get(data, name):
    value = data.get(name)
    return value if value not in ("", None) else None


def _getlist(data, name) -> list:
    if hasattr(data, "getlist"):
        values = data.getlist(name)
    else:
        values = data.get(name) or []
        if isinstance(values, str):
            values = [values]
    out = []
    for value in values:
        if not isinstance(value, str):
            raise SelectionError(name, "must be a list of strings")
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def parse_request(data, *, default_timeout: float) -> WaitRequest:
    """Validate a wait request (a JSON object, or the GET form's query parameters).

    Fields: ``certnames`` (list, or repeated/comma separated ``certname``), ``query`` (PQL or AST),
    ``environment``, ``group``; ``reported_after``, ``code_id``, ``catalog_uuid``,
    ``configuration_version``; ``timeout`` (seconds, capped at RUNS_WAIT_MAX_TIMEOUT);
    ``fail_fast`` (answer as soon as a selected node has failed)."""
    if not hasattr(data, "get"):
        raise SelectionError("body", "must be a JSON object")
    known = {
        "certnames",
        "certname",
        "query",
        "environment",
        "group",
        "reported_after",
        "code_id",
        "catalog_uuid",
        "configuration_version",
        "timeout",
        "fail_fast",
    }
    unknown = sorted(set(data.keys()) - known)
    if unknown:
        raise SelectionError(unknown[0], f"unknown field; known fields: {sorted(known)}")
    selection = Selection(
        certnames=sorted(set(_getlist(data, "certnames") + _getlist(data, "certname"))),
        query=parse_query(_get(data, "query")),
        environment=_get(data, "environment"),
        group=_get(data, "group"),
    )
    for name in ("environment", "group"):
        if getattr(selection, name) is not None and not isinstance(getattr(selection, name), str):
            raise SelectionError(name, "must be a string")
    if selection.is_empty():
        raise SelectionError("nodes", "give certnames, query, environment or group to select nodes")
    condition = Condition(
        reported_after=parse_timestamp(_get(data, "reported_after"), "reported_after"),
        code_id=_get(data, "code_id"),
        catalog_uuid=_get(data, "catalog_uuid"),
        configuration_version=_get(data, "configuration_version"),
    )
    for name in ("code_id", "catalog_uuid", "configuration_version"):
        if getattr(condition, name) is not None and not isinstance(getattr(condition, name), str):
            raise SelectionError(name, "must be a string")
    if condition.is_empty():
        raise SelectionError("condition", "give reported_after and/or code_id, catalog_uuid or configuration_version")
    raw_timeout = _get(data, "timeout")
    if raw_timeout is None:
        timeout = default_timeout
    else:
        try:
            timeout = float(raw_timeout)
        except (TypeError, ValueError):
            raise SelectionError("timeout", f"must be a number of seconds, got {raw_timeout!r}") from None
        if timeout < 0 or timeout != timeout:
            raise SelectionError("timeout", "must not be negative")
    timeout = min(timeout, float(settings.RUNS_WAIT_MAX_TIMEOUT))
    fail_fast = _get(data, "fail_fast")
    if isinstance(fail_fast, str):
        fail_fast = fail_fast.lower() in ("1", "true", "yes", "on")
    return WaitRequest(selection, condition, timeout, bool(fail_fast))


@dataclass
class Evaluation:
    done: dict[str, tuple] = field(default_factory=dict)  # certname -> (report id, producer_timestamp, status)
    pending: dict[str, dict] = field(default_factory=dict)  # certname -> why

    @property
    def failed(self) -> int:
        return sum(1 for _, _, status in self.done.values() if status == FAILED)

    @property
    def complete(self) -> bool:
        return not self.pending


REPORT_FIELDS = [
    "id",
    "hash",
    "certname",
    "status",
    "noop",
    "noop_pending",
    "corrective_change",
    "code_id",
    "catalog_uuid",
    "configuration_version",
    "transaction_uuid",
    "producer_timestamp",
    "run_duration",
    "resources_total",
    "resources_changed",
    "resources_failed",
]
CONDITION_FIELDS = ("code_id", "catalog_uuid", "configuration_version")


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def evaluate(known: dict[str, int], unknown: list[str], condition: Condition) -> Evaluation:
    """Which of the ``known`` nodes ({certname: id}) are done; ``unknown`` certnames are pending.
    Two indexed queries per chunk of nodes (nodes by id; their latest reports by id, the time
    bound pruning partitions), returning tuples only."""
    result = Evaluation()
    for certname in unknown:
        result.pending[certname] = {"certname": certname, "reason": "unknown node (no data yet)"}
    nodes = []
    for chunk in _chunks(list(known.values())):
        nodes.extend(
            Node.objects.filter(pk__in=chunk).values_list(
                "certname", "latest_report_id", "report_timestamp", "latest_report_code_id"
            )
        )
    report_ids = [n[1] for n in nodes if n[1]]
    reports: dict[int, tuple] = {}
    for chunk in _chunks(report_ids):
        qs = Report.objects.filter(pk__in=chunk)
        if condition.reported_after:
            qs = qs.filter(producer_timestamp__gt=condition.reported_after)
        for row in qs.values_list("id", "producer_timestamp", "status", *CONDITION_FIELDS):
            reports[row[0]] = row
    for certname, report_id, report_timestamp, last_code_id in nodes:
        report = reports.get(report_id)
        reason = None
        if report_id is None:
            reason = "no report yet"
        elif report is None:
            reason = "no report after reported_after"
        else:
            for index, name in enumerate(CONDITION_FIELDS, start=3):
                wanted = getattr(condition, name)
                if wanted and report[index] != wanted:
                    reason = f"latest report has {name} {report[index]!r}"
                    break
        if reason is None:
            result.done[certname] = report[:3]
        else:
            result.pending[certname] = {
                "certname": certname,
                "reason": reason,
                "last_report_at": _iso(report_timestamp),
                "last_code_id": last_code_id,
            }
    return result


def _report_page(report_id: int) -> str | None:
    """The web UI's page of a report, when this process serves the UI."""
    try:
        return reverse("ui:report", args=[report_id])
    except NoReverseMatch:
        return None


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def wait(request: WaitRequest, *, hub=None, clock=time.monotonic) -> dict:
    """Evaluate, and re-evaluate the still-pending nodes on relevant notifications, until every
    node is done (a done node stays done with the report that satisfied the condition), a node
    failed with ``fail_fast``, or the timeout."""
    hub = hub or notify.hub
    started = clock()
    deadline = started + request.timeout
    known, unknown = request.selection.resolve(settings.RUNS_WAIT_MAX_NODES)
    if not known and not unknown:
        raise SelectionError("nodes", f"the selection matched no nodes: {request.selection.describe()}")
    if request.timeout > 0:
        hub.ensure_started()  # listening before the first evaluation: no notification is missed
    total = Evaluation()
    while True:
        seq = hub.seq
        if unknown:  # a first report may have created them
            newly = dict(Node.objects.filter(certname__in=unknown).values_list("certname", "id"))
            if newly:
                known.update(newly)
                unknown = [c for c in unknown if c not in newly]
        step = evaluate(known, unknown, request.condition)
        total.done.update(step.done)
        total.pending = step.pending
        for certname in step.done:
            known.pop(certname, None)
        remaining = deadline - clock()
        if total.complete or remaining <= 0 or (request.fail_fast and total.failed):
            break
        notify.release_connection()
        # Coalesce bursts of reports into one re-evaluation per HOOKS_MIN_INTERVAL_SECONDS.
        time.sleep(min(settings.HOOKS_MIN_INTERVAL_SECONDS, max(0.0, remaining)))
        remaining = deadline - clock()
        pause = settings.HOOKS_SAFETY_POLL_SECONDS if hub.listening else settings.HOOKS_POLL_SECONDS
        hub.wait(seq, max(0.0, min(remaining, pause)), interest=set(total.pending))
    return build_result(request, total, waited=clock() - started)


def _done_reports(evaluation: Evaluation) -> list[dict]:
    ids = [report_id for report_id, _, _ in evaluation.done.values()]
    days = sorted({ts for _, ts, _ in evaluation.done.values()})
    rows = []
    for chunk in _chunks(ids):
        qs = Report.objects.filter(pk__in=chunk)
        if days:
            qs = qs.filter(producer_timestamp__gte=days[0], producer_timestamp__lte=days[-1])
        rows.extend(qs.values(*REPORT_FIELDS))
    return rows


def build_result(request: WaitRequest, evaluation: Evaluation, waited: float) -> dict:
    reports = {row["certname"]: row for row in _done_reports(evaluation)}
    failures = _failure_details([r for r in reports.values() if r["status"] == FAILED])
    counts = dict.fromkeys(RUN_STATUSES, 0)
    done = []
    for certname in sorted(reports):
        report = reports[certname]
        status = run_status(report["status"], report["noop"], report["noop_pending"])
        counts[status] = counts.get(status, 0) + 1
        item = {
            "certname": certname,
            "status": status,
            "report_status": report["status"],
            "noop": report["noop"],
            "noop_pending": report["noop_pending"],
            "corrective_change": report["corrective_change"],
            "code_id": report["code_id"],
            "catalog_uuid": report["catalog_uuid"],
            "configuration_version": report["configuration_version"],
            "transaction_uuid": report["transaction_uuid"],
            "producer_timestamp": _iso(report["producer_timestamp"]),
            "run_duration": report["run_duration"],
            "resources": {
                "total": report["resources_total"],
                "changed": report["resources_changed"],
                "failed": report["resources_failed"],
            },
            "report_hash": report["hash"],
            "report_page": _report_page(report["id"]),
            "report_url": f"/pdb/query/v4/reports?query=%5B%22%3D%22%2C%22hash%22%2C%22{report['hash']}%22%5D",
            "events_url": f"/pdb/query/v4/reports/{report['hash']}/events",
        }
        if status == FAILED:
            item["failed_resources"], item["errors"] = failures.get(report["id"], ([], []))
        done.append(item)
    pending = [evaluation.pending[c] for c in sorted(evaluation.pending)]
    if counts[FAILED]:
        outcome = "failed"
    elif pending:
        outcome = "pending"
    else:
        outcome = "succeeded"
    return {
        "outcome": outcome,
        "complete": not pending,
        "timed_out": bool(pending) and not (request.fail_fast and counts[FAILED]),
        "waited_seconds": round(waited, 3),
        "selection": request.selection.describe(),
        "condition": request.condition.describe(),
        "summary": {"selected": len(done) + len(pending), "done": len(done), "pending": len(pending), **counts},
        "done": done,
        "pending": pending,
    }


def _failure_details(reports: list[dict]) -> dict[int, tuple[list, list]]:
    """Failed resources (resource events with status failure) and error-level log messages."""
    if not reports:
        return {}
    out: dict[int, tuple[list, list]] = {r["id"]: ([], []) for r in reports}
    timestamps = sorted({r["producer_timestamp"] for r in reports})
    events = (
        ResourceEvent.objects.filter(
            report_id__in=list(out), report_timestamp__in=timestamps, status=ResourceEvent.Status.FAILURE
        )
        .order_by("report_id", "id")
        .values("report_id", "resource_type", "resource_title", "property", "message", "file", "line")
    )
    for event in events:
        failed = out[event["report_id"]][0]
        if len(failed) < MAX_FAILED_RESOURCES:
            failed.append(
                {
                    "resource": f"{event['resource_type']}[{event['resource_title']}]",
                    "property": event["property"],
                    "message": event["message"],
                    "file": event["file"],
                    "line": event["line"],
                }
            )
    for report_id, logs in Report.objects.filter(pk__in=list(out), producer_timestamp__in=timestamps).values_list(
        "id", "logs"
    ):
        errors = out[report_id][1]
        for entry in logs or []:
            if isinstance(entry, dict) and entry.get("level") in ERROR_LOG_LEVELS and len(errors) < MAX_ERRORS:
                errors.append(
                    {"level": entry.get("level"), "source": entry.get("source"), "message": entry.get("message")}
                )
    return out
