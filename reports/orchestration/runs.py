"""Run completion: "have the selected nodes run (the new code), and how did it go?"

A node is *done* when its latest report satisfies the condition: produced after
``reported_after`` (the report's ``producer_timestamp``) and, when given, with that ``code_id``,
``catalog_uuid`` and/or ``configuration_version``. Done nodes carry the run status (``failed``,
``changed``, ``unchanged``, or ``noop`` for a noop run with pending changes), the report link,
and for failures the failed resources and error messages.

``wait`` is bounded by its timeout and evaluates with one query per 10,000 nodes (the node rows
by id joined to their latest report by id, the time bound pruning partitions). Between
evaluations it gives the database connection back and sleeps on the process's LISTEN hub
(``notify``), waking only for notifications about a node it still waits for and then re-checking
only those nodes; every ``HOOKS_SAFETY_POLL_SECONDS`` (``HOOKS_POLL_SECONDS`` while the listener
is not connected) it re-checks every pending node.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
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
    problems_only: bool = False  # list only failed (and pending) nodes; successes are counted


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
    ``fail_fast`` (answer as soon as a selected node has failed); ``details`` (``all``, or
    ``problems`` to list only failed and pending nodes — successes are still counted)."""
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
        "details",
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
    details = _get(data, "details") or "all"
    if details not in ("all", "problems"):
        raise SelectionError("details", "must be 'all' or 'problems' (list only failed and pending nodes)")
    return WaitRequest(selection, condition, timeout, bool(fail_fast), details == "problems")


@dataclass
class Evaluation:
    # certname -> (report id, producer_timestamp, run status)
    done: dict[str, tuple] = field(default_factory=dict)
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


EVALUATE_SQL = """
SELECT n.certname, n.latest_report_id, n.report_timestamp, n.latest_report_code_id,
       r.id, r.producer_timestamp, r.status, r.noop, r.noop_pending,
       r.code_id, r.catalog_uuid, r.configuration_version
FROM inventory_node n
LEFT JOIN reports_report r ON r.id = n.latest_report_id AND r.producer_timestamp > %s
WHERE n.id = ANY(%s)
"""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def evaluate(known: dict[str, int], unknown: list[str], condition: Condition) -> Evaluation:
    """Which of the ``known`` nodes ({certname: id}) are done; ``unknown`` certnames are pending.
    One query per chunk of nodes: the node rows by id joined to their latest report (by id, the
    ``reported_after`` bound pruning partitions), tuples only."""
    result = Evaluation()
    for certname in unknown:
        result.pending[certname] = {"certname": certname, "reason": "unknown node (no data yet)"}
    after = condition.reported_after or EPOCH
    with connection.cursor() as cursor:
        for chunk in _chunks(list(known.values())):
            cursor.execute(EVALUATE_SQL, [after, chunk])
            for row in cursor.fetchall():
                certname, report_id, report_timestamp, last_code_id = row[:4]
                reason = None
                if report_id is None:
                    reason = "no report yet"
                elif row[4] is None:
                    reason = "no report after reported_after"
                else:
                    for index, name in enumerate(CONDITION_FIELDS, start=9):
                        wanted = getattr(condition, name)
                        if wanted and row[index] != wanted:
                            reason = f"latest report has {name} {row[index]!r}"
                            break
                if reason is None:
                    result.done[certname] = (row[4], row[5], run_status(row[6], row[7], row[8]))
                else:
                    result.pending[certname] = {
                        "certname": certname,
                        "reason": reason,
                        "last_report_at": _iso(report_timestamp),
                        "last_code_id": last_code_id,
                    }
    return result


def _report_page_template() -> str | None:
    """The web UI's report page path for report id 0 (the id is substituted), when this process
    serves the UI."""
    try:
        path = reverse("ui:report", args=[0])
    except NoReverseMatch:
        return None
    return path if path.count("0") == 1 else None


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
    seq = hub.seq
    total = Evaluation()
    recheck: set[str] | None = None  # None: every pending node; else only these certnames
    while True:
        if unknown:  # a first report may have created them
            newly = dict(Node.objects.filter(certname__in=unknown).values_list("certname", "id"))
            if newly:
                known.update(newly)
                unknown = [c for c in unknown if c not in newly]
                recheck = None if recheck is None else recheck | set(newly)
        subset = known if recheck is None else {c: known[c] for c in recheck if c in known}
        step = evaluate(subset, unknown, request.condition)
        total.done.update(step.done)
        if recheck is None:
            total.pending = step.pending
        else:  # only the re-checked nodes can have changed
            for certname in step.done:
                total.pending.pop(certname, None)
            total.pending.update(step.pending)
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
        woke = hub.wait(seq, max(0.0, min(remaining, pause)), interest=set(total.pending))
        # Woken by notifications: re-check only the nodes they named (a superset is harmless);
        # a safety poll (no notification) or an inexact window re-checks every pending node.
        new_seq = hub.seq
        changed = hub.changed_since(seq) if woke is not None else None
        seq = new_seq
        recheck = None if changed is None else changed & set(known)
    return build_result(request, total, waited=clock() - started)


def _done_reports(done: list[tuple]) -> list[dict]:
    ids = [report_id for report_id, _, _ in done]
    stamps = [ts for _, ts, _ in done]
    if not ids:
        return []
    low, high = min(stamps), max(stamps)
    rows = []
    for chunk in _chunks(ids):
        qs = Report.objects.filter(producer_timestamp__gte=low, producer_timestamp__lte=high).extra(
            where=["reports_report.id = ANY(%s)"], params=[chunk]
        )
        rows.extend(qs.values(*REPORT_FIELDS))
    return rows


def build_result(request: WaitRequest, evaluation: Evaluation, waited: float) -> dict:
    counts = dict.fromkeys(RUN_STATUSES, 0)
    for _, _, status in evaluation.done.values():
        counts[status] = counts.get(status, 0) + 1
    listed = [t for t in evaluation.done.values() if not request.problems_only or t[2] == FAILED]
    reports = {row["certname"]: row for row in _done_reports(listed)}
    failures = _failure_details([r for r in reports.values() if r["status"] == FAILED])
    page = _report_page_template()
    done = []
    for certname in sorted(reports):
        report = reports[certname]
        status = run_status(report["status"], report["noop"], report["noop_pending"])
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
            "report_page": page.replace("0", str(report["id"])) if page else None,
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
        "summary": {
            "selected": len(evaluation.done) + len(pending),
            "done": len(evaluation.done),
            "pending": len(pending),
            **counts,
        },
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
