"""Template helpers of the web UI: status badges, relative times, durations, query strings."""

from __future__ import annotations

import datetime as dt
import json

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

STATUS_LABELS = {
    "failed": "failed",
    "changed": "changed",
    "unchanged": "unchanged",
    "noop_pending": "noop pending",
    "unreported": "unreported",
    "deactivated": "inactive",
    None: "no report",
    "": "no report",
}


@register.simple_tag
def status_badge(status, noop_pending=False):
    """A coloured, labelled badge (colour is never the only cue: the text says it too)."""
    key = status or ""
    if noop_pending and status == "unchanged":
        key = "noop_pending"
    label = STATUS_LABELS.get(key, key)
    return format_html('<span class="badge badge-{}">{}</span>', key or "none", label)


@register.filter
def node_status(node, unreported_before=None):
    """The display status of a node row (inactive, unreported, or its latest report status)."""
    if node.deactivated or node.expired:
        return "deactivated"
    if unreported_before and (node.report_timestamp is None or node.report_timestamp < unreported_before):
        return "unreported"
    if node.latest_report_status == "unchanged" and node.latest_report_noop_pending:
        return "noop_pending"
    return node.latest_report_status or ""


@register.simple_tag
def when(value):
    """``<time>`` with the ISO timestamp as machine value and title, "5 min ago" as text."""
    if not value:
        return format_html('<span class="muted">{}</span>', "never")
    now = timezone.now()
    delta = now - value
    seconds = int(delta.total_seconds())
    if seconds < 0:
        text = "in the future"
    elif seconds < 60:
        text = f"{seconds} s ago"
    elif seconds < 3600:
        text = f"{seconds // 60} min ago"
    elif seconds < 86400 * 2:
        text = f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    else:
        text = f"{seconds // 86400} days ago"
    iso = value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), iso, text)


@register.filter
def utc(value):
    if not value:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@register.filter
def seconds(value):
    """A duration in seconds, human-sized."""
    if value is None:
        return "–"
    value = float(value)
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


@register.filter
def as_json(value):
    """Compact JSON of a value (for parameters, fact values, event values)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def pretty_json(value):
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, default=str)


@register.filter
def get(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None
