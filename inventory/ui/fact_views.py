"""Facts pages: every fact name and path in the fleet, and for one fact the distribution of its
values (chart) with links to the nodes behind each value."""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.db.models import Count, Max
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from inventory.models import FactDistribution, FactPath
from inventory.ui import charts
from inventory.ui.access import ui_view
from inventory.ui.common import render_page
from inventory.ui.facts import FactPathError, parse_path, path_key, path_label

log = logging.getLogger(__name__)
MAX_AGE = dt.timedelta(minutes=10)
RETRY_AFTER = dt.timedelta(minutes=2)
PATH_LIMIT = 500


@ui_view()
def fact_list(request):
    q = (request.GET.get("q") or "").strip()
    name = (request.GET.get("name") or "").strip()
    names = list(FactPath.objects.values("name").annotate(paths=Count("id"), seen=Max("last_seen")).order_by("name"))
    paths = []
    if q or name:
        qs = FactPath.objects.all()
        if name:
            qs = qs.filter(name=name)
        if q:
            qs = qs.filter(path_key__icontains=q)
        paths = [
            {"label": path_label(json.loads(p.path_key)), "key": p.path_key, "type": p.value_type, "seen": p.last_seen}
            for p in qs.order_by("path_key", "value_type")[:PATH_LIMIT]
        ]
    for entry in names:
        entry["key"] = json.dumps([entry["name"]])
    context = {"names": names, "paths": paths, "q": q, "name": name, "limit": PATH_LIMIT}
    return render_page(request, "inventory/facts.html", context, "facts")


def _request_computation(path: list, dist: FactDistribution | None) -> str | None:
    """Ask a worker for a fresh distribution unless one was asked for recently; returns an error text."""
    now = timezone.now()
    if (
        dist is not None
        and dist.requested
        and now - dist.requested < RETRY_AFTER
        and (dist.computed is None or dist.computed < dist.requested)
    ):
        return None  # already on its way
    key = path_key(path)
    FactDistribution.objects.bulk_create(
        [FactDistribution(path_key=key, requested=now)],
        update_conflicts=True,
        unique_fields=["path_key"],
        update_fields=["requested"],
    )
    try:
        from inventory.ui.tasks import fact_distribution

        fact_distribution.apply_async(args=[key], retry=False)
    except Exception as exc:  # noqa: BLE001 - the broker is down: say so on the page
        log.warning("fact distribution not queued", extra={"path": key, "error": str(exc)})
        return "The background workers cannot be reached right now; the figures below may be old."
    return None


@ui_view()
def fact_detail(request):
    errors = []
    try:
        path = parse_path(request.GET.get("path", ""))
    except FactPathError as exc:
        return render_page(request, "inventory/fact.html", {"errors": [str(exc)]}, "facts", status=400)
    # Array indexes typed in a dotted path ("disks.0") are integers in the stored paths.
    typed = [int(p) if isinstance(p, str) and p.isdigit() else p for p in path]
    types = list(FactPath.objects.filter(path_key=path_key(typed)).values_list("value_type", flat=True))
    if types:
        path = typed
    else:
        types = list(FactPath.objects.filter(path_key=path_key(path)).values_list("value_type", flat=True))
    if not types:
        # Only paths seen in the fleet are counted (no background work for made-up paths).
        message = f"No node has reported the fact path {path_label(path)!r}."
        return render_page(request, "inventory/fact.html", {"errors": [message]}, "facts", status=404)
    key = path_key(path)
    dist = FactDistribution.objects.filter(path_key=key).first()
    stale = dist is None or dist.computed is None or timezone.now() - dist.computed > MAX_AGE
    if stale or request.GET.get("refresh") == "1":
        problem = _request_computation(path, dist)
        if problem:
            errors.append(problem)
        dist = FactDistribution.objects.filter(path_key=key).first()
    values = []
    if dist and dist.computed:
        for value, count in dist.values:
            shown = value if isinstance(value, str) else json.dumps(value)
            href = None
            if not isinstance(value, dict | list) and not any(isinstance(p, int) for p in path):
                href = reverse("ui:nodes") + "?" + urlencode({"fact": key, "value": json.dumps(value)})
            values.append(
                {"label": shown, "count": count, "href": href, "share": count / dist.nodes * 100 if dist.nodes else 0}
            )
    chart = (
        charts.hbars(
            [(v["label"], v["count"], v["href"]) for v in values[:25]],
            title=f"Values of {path_label(path)}",
            desc=f"Number of active nodes per value of the fact {path_label(path)}, most frequent first.",
        )
        if values
        else None
    )
    context = {
        "path": path,
        "label": path_label(path),
        "key": key,
        "types": types,
        "dist": dist,
        "values": values,
        "chart": chart,
        "computing": dist is None or dist.computed is None or dist.computed < dist.requested,
        "errors": errors,
    }
    return render_page(request, "inventory/fact.html", context, "facts")
