"""Helpers every UI view uses: rendering with the shell's context, query-string parsing."""

from __future__ import annotations

import datetime as dt
import time

from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from inventory.ui.access import user_role


def render_page(request, template: str, context: dict, section: str = "", status: int = 200):
    started = getattr(request, "_ui_started", None)
    context = {
        "section": section,
        "ui_role": user_role(request.user),
        "quick_q": request.GET.get("q", "") if section == "nodes" else "",
        **context,
    }
    if started is not None:
        context["render_ms"] = f"{(time.perf_counter() - started) * 1000:.0f} ms"
    return render(request, template, context, status=status)


def parse_when(value: str | None) -> dt.datetime | None:
    """A date or datetime from a query string (``2026-11-20``, ``2026-11-20T14:00``); UTC when naive.
    Raises ValueError with a readable message."""
    if not value:
        return None
    value = value.strip()
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM)")
        parsed = dt.datetime.combine(day, dt.time())
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def int_param(request, name: str, default: int, minimum: int, maximum: int) -> int:
    try:
        value = int(request.GET.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(value, minimum), maximum)
