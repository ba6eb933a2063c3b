"""The "where applied" page."""

from __future__ import annotations

from inventory.models import Environment, Resource
from inventory.ui import paging
from inventory.ui.access import ui_view
from inventory.ui.common import parse_when, render_page
from inventory.ui.where import WhereError, catalogs

SORT = paging.Sort("node__certname", "id", nullable=False)
PAGE_SIZE = 100


@ui_view()
def where_applied(request):
    f = request.GET
    errors = []
    rows, next_cursor, total, variants = [], None, None, []
    asked = any(f.get(k) for k in ("class", "type", "title", "code_id", "catalog_uuid"))
    at = None
    try:
        at = parse_when(f.get("at"))
    except ValueError as exc:
        errors.append(str(exc))
    env = Environment.objects.filter(name=f.get("env")).first() if f.get("env") else None
    if asked and not errors:
        try:
            qs, resource_ids = catalogs(
                klass=f.get("class", ""),
                type_=f.get("type", ""),
                title=f.get("title", ""),
                code_id=f.get("code_id", ""),
                catalog_uuid=f.get("catalog_uuid", ""),
                environment_id=env.id if env else (-1 if f.get("env") else None),
                at=at,
            )
        except WhereError as exc:
            errors.append(str(exc))
        else:
            qs = qs.select_related("node", "environment").only(
                "id",
                "node__certname",
                "environment__name",
                "code_id",
                "catalog_uuid",
                "valid_from",
                "valid_to",
                "version",
            )
            try:
                rows, next_cursor = paging.page(qs, SORT, f.get("after"), PAGE_SIZE)
            except paging.BadCursor as exc:
                errors.append(str(exc))
            total = qs.order_by().count()
            if resource_ids and len(resource_ids) > 1:
                variants = list(
                    Resource.objects.filter(id__in=resource_ids[:20]).only("id", "parameters", "file", "line")
                )
    params = f.copy()
    params.pop("after", None)
    next_params = params.copy()
    if next_cursor:
        next_params["after"] = next_cursor
    context = {
        "f": f,
        "asked": asked,
        "at": at,
        "rows": rows,
        "total": total,
        "variants": variants,
        "errors": errors,
        "environments": Environment.objects.only("name"),
        "next_url": "?" + next_params.urlencode() if next_cursor else None,
        "first_url": "?" + params.urlencode() if f.get("after") else None,
    }
    return render_page(request, "inventory/where_applied.html", context, "where", status=400 if errors else 200)
