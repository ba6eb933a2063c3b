"""The node pages: overview (status, timestamps, report strip), facts, current catalog resources,
catalog history with diff, and events. All reads are by node id on indexed columns; report and
event reads are bounded in time so only recent partitions are touched."""

from __future__ import annotations

import datetime as dt
import json

from django.db.models import Count
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404
from django.utils import timezone

from inventory import catalog_diff
from inventory.models import Catalog, Factset, Node, Resource
from inventory.ui import paging
from inventory.ui.access import ui_view
from inventory.ui.common import int_param, render_page
from inventory.ui.facts import tree_html
from inventory.ui.filters import unreported_cutoff
from reports.models import Report, ResourceEvent

HISTORY_DAYS = 30
STRIP_SIZE = 60
RESOURCE_LIMIT = 100
DIFF_LIMIT = 200


def _with(request, **changes) -> str:
    params = request.GET.copy()
    for key, value in changes.items():
        params[key] = value
    return params.urlencode()


def _node(certname: str) -> Node:
    return get_object_or_404(
        Node.objects.select_related("report_environment", "catalog_environment", "facts_environment"),
        certname=certname,
    )


def _page(request, node, template, tab, context):
    return render_page(
        request,
        template,
        {"node": node, "tab": tab, "cutoff": unreported_cutoff(), **context},
        "nodes",
    )


def _classification(node):
    """The node's groups and why, from the ENC resolver."""
    from enc.ui.node_panel import classification_for

    return classification_for(node)


@ui_view()
def node_overview(request, certname):
    node = _node(certname)
    since = timezone.now() - dt.timedelta(days=HISTORY_DAYS)
    strip = list(
        Report.objects.filter(node_id=node.id, producer_timestamp__gte=since)
        .order_by("-producer_timestamp")
        .only("id", "producer_timestamp", "status", "noop", "noop_pending", "run_duration")[:STRIP_SIZE]
    )
    strip.reverse()
    current = None
    if node.latest_catalog_id:
        current = (
            Catalog.objects.filter(pk=node.latest_catalog_id)
            .select_related("resource_set", "environment", "producer")
            .defer("resource_set__resource_ids")
            .first()
        )
    recent_events = []
    if node.latest_report_id and node.report_timestamp:
        recent_events = list(
            ResourceEvent.objects.filter(
                report_id=node.latest_report_id, report_timestamp=node.report_timestamp
            ).order_by("status", "resource_type", "resource_title")[:50]
        )
    return _page(
        request,
        node,
        "inventory/node.html",
        "overview",
        {
            "strip": strip,
            "current": current,
            "recent_events": recent_events,
            "classification": _classification(node),
            "history_days": HISTORY_DAYS,
        },
    )


@ui_view()
def node_facts(request, certname):
    node = _node(certname)
    factset = Factset.objects.filter(node=node).select_related("environment", "producer").first()
    tree = tree_html(factset.facts) if factset else ""
    return _page(request, node, "inventory/node_facts.html", "facts", {"factset": factset, "tree": tree})


@ui_view()
def node_resources(request, certname):
    node = _node(certname)
    current = None
    if node.latest_catalog_id:
        current = Catalog.objects.filter(pk=node.latest_catalog_id).select_related("resource_set").first()
    type_ = request.GET.get("type") or ""
    tag = (request.GET.get("tag") or "").strip()
    klass = (request.GET.get("class") or "").strip()
    title = (request.GET.get("title") or "").strip()
    limit = int_param(request, "limit", RESOURCE_LIMIT, 1, 5000)
    rows, total, types, classes = [], 0, [], []
    if current:
        base = Resource.objects.filter(
            id__in=RawSQL(
                "SELECT unnest(resource_ids) FROM inventory_resourceset WHERE id = %s", [current.resource_set_id]
            )
        )
        types = list(base.values("type").annotate(n=Count("id")).order_by("type"))
        classes = list(base.filter(type="Class").order_by("title").values_list("title", flat=True))
        qs = base
        if type_:
            qs = qs.filter(type=type_)
        if tag:
            qs = qs.filter(tags__contains=[tag.lower()])
        if klass:
            qs = qs.filter(tags__contains=[klass.lower()])
        if title:
            qs = qs.filter(title__icontains=title)
        total = qs.count()
        rows = list(qs.order_by("type", "title")[:limit])
        for row in rows:
            row.param_lines = [
                (k, json.dumps(v, sort_keys=True, ensure_ascii=False)) for k, v in row.parameters.items()
            ]
    return _page(
        request,
        node,
        "inventory/node_resources.html",
        "resources",
        {
            "current": current,
            "rows": rows,
            "total": total,
            "types": types,
            "classes": classes,
            "f": request.GET,
            "limit": limit,
            "all_url": "?" + _with(request, limit=5000),
        },
    )


@ui_view()
def node_catalogs(request, certname):
    node = _node(certname)
    limit = int_param(request, "limit", 50, 5, 500)
    versions = list(
        Catalog.objects.filter(node=node)
        .select_related("environment", "resource_set")
        .defer("resource_set__resource_ids")
        .order_by("-valid_from")[:limit]
    )
    by_id = {c.id: c for c in versions}
    errors = []
    diff = None
    old_id, new_id = request.GET.get("from"), request.GET.get("to")
    if not (old_id or new_id) and len(versions) >= 2:
        old_id, new_id = str(versions[1].id), str(versions[0].id)
    elif new_id and not old_id:
        # Only "to" (a link from "where applied"): compare with the version before it.
        before = (
            Catalog.objects.filter(
                node=node, valid_from__lt=Catalog.objects.filter(pk=new_id, node=node).values("valid_from")[:1]
            )
            .order_by("-valid_from")
            .values_list("id", flat=True)
            .first()
            if new_id.isdigit()
            else None
        )
        old_id = str(before) if before else new_id
    if old_id and new_id:
        try:
            pair = {
                c.id: c
                for c in Catalog.objects.filter(node=node, id__in=[int(old_id), int(new_id)]).select_related(
                    "resource_set", "edge_set", "environment"
                )
            }
            old, new = pair[int(old_id)], pair[int(new_id)]
        except (ValueError, KeyError):
            errors.append("pick two catalog versions of this node to compare")
        else:
            if old.valid_from > new.valid_from:
                old, new = new, old
            diff = catalog_diff.diff(old, new)
            for change in diff.changes[:DIFF_LIMIT]:
                resource = change.new or change.old
                change.param_lines = [
                    (k, json.dumps(v, sort_keys=True, ensure_ascii=False))
                    for k, v in (resource.parameters or {}).items()
                ]
    return _page(
        request,
        node,
        "inventory/node_catalogs.html",
        "catalogs",
        {
            "versions": versions,
            "by_id": by_id,
            "diff": diff,
            "errors": errors,
            "from_id": str(diff.old.id) if diff else old_id,
            "to_id": str(diff.new.id) if diff else new_id,
            "limit": limit,
            "diff_limit": DIFF_LIMIT,
            "shown_changes": diff.changes[:DIFF_LIMIT] if diff else [],
        },
    )


EVENT_SORT = paging.Sort("report_timestamp", "id", descending=True, nullable=False)
EVENT_PAGE_SIZE = 100


@ui_view()
def node_events(request, certname):
    node = _node(certname)
    days = int_param(request, "days", 7, 1, HISTORY_DAYS)
    status = request.GET.get("status") or ""
    qs = ResourceEvent.objects.filter(node_id=node.id, report_timestamp__gte=timezone.now() - dt.timedelta(days=days))
    if status in ResourceEvent.Status.values:
        qs = qs.filter(status=status)
    resource_type = request.GET.get("type") or ""
    if resource_type:
        qs = qs.filter(resource_type=resource_type)
    errors = []
    rows, pager = paging.paged(request, qs, EVENT_SORT, EVENT_PAGE_SIZE, errors)
    return _page(
        request,
        node,
        "inventory/node_events.html",
        "events",
        {
            "rows": rows,
            "days": days,
            "f": request.GET,
            "statuses": ResourceEvent.Status.values,
            "errors": errors,
            "pager": pager,
        },
    )
