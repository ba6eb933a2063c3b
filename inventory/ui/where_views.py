"""The "where applied" page, on ``inventory.where_applied`` (the same function as the REST API):
nodes whose catalog contained a class, a resource, a catalog_uuid or a code_id, now or at a past
instant, with the catalog version and the report that applied it."""

from __future__ import annotations

from inventory.models import Environment
from inventory.query.errors import QueryError
from inventory.ui import paging
from inventory.ui.access import ui_view
from inventory.ui.common import parse_when, render_page
from inventory.ui.where import WhereError, catalogs
from inventory.where_applied import walk
from reports.models import Report

PAGE_SIZE = 50


def _report_ids(rows: list[dict]) -> dict[str, int]:
    """Report ids by hash for the rows' applying reports, in one query bounded in time."""
    reports = [row["report"] for row in rows if row["report"]]
    if not reports:
        return {}
    stamps = [r["producer_timestamp"] for r in reports]
    return dict(
        Report.objects.filter(
            hash__in=[r["hash"] for r in reports],
            producer_timestamp__gte=min(stamps),
            producer_timestamp__lte=max(stamps),
        ).values_list("hash", "id")
    )


def _count(f, at, env) -> int | None:
    """How many nodes match (the same criteria, counted in SQL); None where it cannot be counted."""
    try:
        qs, _ = catalogs(
            klass=f.get("class", ""),
            type_=f.get("type", ""),
            title=f.get("title", ""),
            code_id=f.get("code_id", ""),
            catalog_uuid=f.get("catalog_uuid", ""),
            environment_id=env.id if env else (-1 if f.get("env") else None),
            at=at,
        )
    except WhereError:
        return None
    if at is None:
        qs = qs.filter(node__deactivated__isnull=True, node__expired__isnull=True)
    return qs.count()


def _cursor(token: str | None) -> list | None:
    if not token:
        return None
    try:
        certname, catalog_id = paging.decode(token)
        return [str(certname), int(catalog_id)]
    except (paging.BadCursor, ValueError, TypeError) as exc:
        raise paging.BadCursor(paging.BAD_CURSOR) from exc


def _row_cursor(row: dict) -> str:
    return paging.encode([row["certname"], row["catalog"]["id"]])


@ui_view()
def where_applied(request):
    f = request.GET
    errors = []
    rows, result, total = [], None, None
    asked = any(f.get(k) for k in ("class", "type", "title", "code_id", "catalog_uuid"))
    at = during = None
    try:
        at = parse_when(f.get("at"))
        since, until = parse_when(f.get("since")), parse_when(f.get("until"))
    except ValueError as exc:
        errors.append(str(exc))
    else:
        if since or until:
            if not (since and until):
                errors.append("a time range needs both 'from' and 'until'")
            else:
                during = (since, until)
    env = Environment.objects.filter(name=f.get("env")).first() if f.get("env") else None
    after = before = None
    try:
        after, before = _cursor(f.get("after")), _cursor(f.get("before"))
    except paging.BadCursor as exc:
        errors.append(str(exc))
    if asked and not errors:
        # Counted first (indexed); when nothing matches, the row query (which walks nodes in
        # certname order expecting matches) is skipped.
        total = _count(f, at, env) if during is None else None
    if asked and not errors and total != 0:
        fetch = walk(
            class_name=f.get("class") or None,
            resource_type=f.get("type") or None,
            title=f.get("title") or None,
            code_id=f.get("code_id") or None,
            catalog_uuid=f.get("catalog_uuid") or None,
            environment=f.get("env") or None,
            at=at,
            during=during,
        )
        try:
            result = paging.seek(fetch, _row_cursor, PAGE_SIZE, after=after, before=before)
        except QueryError as exc:
            errors.append(str(exc))
        else:
            rows = result.rows
            ids = _report_ids(rows)
            for row in rows:
                row["report_id"] = ids.get(row["report"]["hash"]) if row["report"] else None
    context = {
        "f": f,
        "asked": asked,
        "at": at,
        "during": during,
        "rows": rows,
        "total": total,
        "errors": errors,
        "environments": Environment.objects.only("name"),
        "pager": paging.links(f, result),
    }
    return render_page(request, "inventory/where_applied.html", context, "where", status=400 if errors else 200)
