"""Celery tasks of the ingest pipeline (thin: the work is in ``ingest.processing``)."""

from __future__ import annotations

from celery import shared_task

from ingest import inbox, processing


@shared_task(name="stagehand.ingest.process_commands", acks_late=True, reject_on_worker_lost=True)
def process_commands(ids: list[int] | None = None) -> dict:
    """Apply the given pending commands (and any other pending ones, a batch at a time)."""
    return dict(processing.drain(ids))


@shared_task(name="stagehand.ingest.requeue_stuck")
def requeue_stuck() -> int:
    """Beat job: re-publish tasks for pending commands whose message was lost."""
    return inbox.requeue_stuck()


@shared_task(name="stagehand.ingest.purge_processed")
def purge_processed() -> int:
    """Beat job: delete applied commands after ``INGEST_KEEP_PROCESSED_SECONDS``."""
    return inbox.purge_processed()
