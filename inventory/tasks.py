"""Housekeeping tasks (queue ``housekeeping``), scheduled by beat every ``GC_INTERVAL``. Thin:
they call ``inventory.retention`` with the configured policy."""

from __future__ import annotations

from celery import shared_task

from inventory import retention


def _policy():
    return retention.RetentionPolicy.from_settings()


@shared_task(name="stagehand.housekeeping.expire_nodes", ignore_result=False)
def expire_nodes() -> dict:
    return retention.run_operation("expire_nodes", _policy()).as_dict()


@shared_task(name="stagehand.housekeeping.purge_nodes", ignore_result=False)
def purge_nodes() -> dict:
    return retention.run_operation("purge_nodes", _policy()).as_dict()


@shared_task(name="stagehand.housekeeping.purge_reports", ignore_result=False)
def purge_reports() -> dict:
    return retention.run_operation("purge_reports", _policy()).as_dict()


@shared_task(name="stagehand.housekeeping.gc_catalog_history", ignore_result=False)
def gc_catalog_history() -> dict:
    return retention.run_operation("gc_catalog_history", _policy()).as_dict()


@shared_task(name="stagehand.housekeeping.gc_packages", ignore_result=False)
def gc_packages() -> dict:
    return retention.run_operation("gc_packages", _policy()).as_dict()


@shared_task(name="stagehand.housekeeping.gc_fact_paths", ignore_result=False)
def gc_fact_paths() -> dict:
    return retention.run_operation("gc_fact_paths", _policy()).as_dict()
