"""Code rollout: per environment and ``code_id``, how many nodes run it now, since when, and
with what run status.

"On it" means the node's latest report was produced from that code (``Node.latest_report_code_id``,
kept current by ingest); ``since`` is when this code_id first appears in the catalog history of
the environment (the earliest ``Catalog.valid_from`` with that code_id), and ``last_report`` the
newest report among the nodes on it. Two grouped queries on the node table and one on the
indexed catalog history, whatever the fleet size.
"""

from __future__ import annotations

from django.db.models import Count, Max, Min, Q

from inventory.models import Catalog, Environment, Node
from reports.orchestration.events import NOOP

STATUS_FILTERS = {
    "failed": Q(latest_report_status="failed"),
    "noop": ~Q(latest_report_status="failed") & Q(latest_report_noop=True, latest_report_noop_pending=True),
    "changed": Q(latest_report_status="changed") & ~Q(latest_report_noop=True, latest_report_noop_pending=True),
    "unchanged": Q(latest_report_status="unchanged") & ~Q(latest_report_noop=True, latest_report_noop_pending=True),
}


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def environment_rollout(environment: Environment) -> dict:
    nodes = Node.objects.active().filter(report_environment=environment)
    rows = list(
        nodes.values("latest_report_code_id")
        .annotate(
            nodes=Count("id"),
            last_report=Max("report_timestamp"),
            **{status: Count("id", filter=flt) for status, flt in STATUS_FILTERS.items()},
        )
        .order_by()
    )
    code_ids = [row["latest_report_code_id"] for row in rows if row["latest_report_code_id"]]
    since = dict(
        Catalog.objects.filter(environment=environment, code_id__in=code_ids)
        .values("code_id")
        .annotate(since=Min("valid_from"))
        .values_list("code_id", "since")
    )
    total = sum(row["nodes"] for row in rows)
    entries = []
    for row in rows:
        code_id = row["latest_report_code_id"]
        entries.append(
            {
                "code_id": code_id,
                "nodes": row["nodes"],
                "percent": round(100.0 * row["nodes"] / total, 1) if total else 0.0,
                "since": _iso(since.get(code_id)) if code_id else None,
                "last_report": _iso(row["last_report"]),
                "status": {status: row[status] for status in ("changed", "unchanged", "failed", NOOP)},
            }
        )
    # Newest code first (by since; unknown code_ids last), so entries[0] is the latest deployment.
    entries.sort(key=lambda e: e["since"] or "", reverse=True)
    entries.sort(key=lambda e: (e["code_id"] is None, e["since"] is None))
    latest = entries[0]["code_id"] if entries and entries[0]["code_id"] else None
    on_latest = entries[0]["nodes"] if latest else 0
    return {
        "environment": environment.name,
        "nodes": total,
        "latest_code_id": latest,
        "on_latest": on_latest,
        "percent_on_latest": round(100.0 * on_latest / total, 1) if total else 0.0,
        "code_ids": entries,
    }


def rollout(environment_name: str | None = None) -> list[dict]:
    envs = Environment.objects.all()
    if environment_name:
        envs = envs.filter(name=environment_name)
    return [environment_rollout(env) for env in envs]
