"""Node status categories shared by the dashboard counts and the node list filter, so a tile's
number and the list it links to always agree.

Categories are exclusive: ``deactivated`` (deactivated or expired), ``unreported`` (active, no
report since the cutoff), then by the latest report: ``failed``, ``changed``, ``noop_pending``
(unchanged, with noop changes pending), ``unchanged``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

STATUSES = ("failed", "changed", "noop_pending", "unchanged", "unreported", "deactivated")
STATUS_LABELS = {
    "failed": "Failed",
    "changed": "Changed",
    "noop_pending": "Noop pending",
    "unchanged": "Unchanged",
    "unreported": "Unreported",
    "deactivated": "Inactive",
}


def unreported_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(seconds=settings.UI_UNREPORTED_AFTER)


def status_q(status: str, cutoff: dt.datetime) -> Q:
    active = Q(deactivated__isnull=True, expired__isnull=True)
    reporting = active & Q(report_timestamp__gte=cutoff)
    if status == "deactivated":
        return Q(deactivated__isnull=False) | Q(expired__isnull=False)
    if status == "unreported":
        return active & (Q(report_timestamp__isnull=True) | Q(report_timestamp__lt=cutoff))
    if status == "failed":
        return reporting & Q(latest_report_status="failed")
    if status == "changed":
        return reporting & Q(latest_report_status="changed")
    if status == "noop_pending":
        return reporting & Q(latest_report_status="unchanged", latest_report_noop_pending=True)
    if status == "unchanged":
        return reporting & Q(latest_report_status="unchanged") & ~Q(latest_report_noop_pending=True)
    raise ValueError(f"unknown status {status!r}")
