"""Celery tasks of the orchestration hooks (thin: the logic is in ``webhooks`` and ``events``)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from reports.orchestration import events, webhooks


@shared_task(name="stagehand.hooks.deliver")
def deliver(delivery_id: int) -> None:
    retry_in = webhooks.attempt(delivery_id)
    if retry_in is not None:
        webhooks.enqueue([delivery_id], countdown=retry_in)


@shared_task(name="stagehand.hooks.requeue_deliveries")
def requeue_deliveries() -> int:
    return len(webhooks.requeue_stale())


@shared_task(name="stagehand.hooks.prune_events")
def prune_events() -> int:
    return events.prune(settings.EVENTS_HISTORY_MAX_ROWS, settings.EVENTS_HISTORY_MAX_AGE_HOURS)
