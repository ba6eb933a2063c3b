"""Celery tasks of the web UI (registered through ``config/celery.py``'s autodiscovery)."""

from __future__ import annotations

import json

from celery import shared_task

from inventory import fact_stats
from reports import rollups


@shared_task(name="stagehand.housekeeping.ui_rollup_runs")
def ui_rollup_runs(hours: int = 2) -> int:
    """Refresh the hourly run rollup of the dashboard charts (beat: every minute)."""
    return rollups.refresh_recent(hours)


@shared_task(name="stagehand.ui.fact_distribution")
def fact_distribution(path_key: str) -> int:
    """Compute the value distribution of one fact (asked for by the facts page)."""
    return fact_stats.compute(json.loads(path_key)).distinct
