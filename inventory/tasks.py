"""Housekeeping tasks (queue ``housekeeping``), scheduled by beat every ``GC_INTERVAL``. Thin:
they call ``inventory.retention`` with the configured policy."""

from __future__ import annotations

from celery import shared_task

from inventory import retention


def _policy():
    return retention.RetentionPolicy.from_settings()


@shared_task(name="stagehand.housekeeping.expire_nodes", ignore_result=False)
def expire_nodes() -> dict:
    policy = _policy()
    return retention.expire_nodes(policy.node_ttl, batch_size=policy.batch_size).as_dict()


@shared_task(name="stagehand.housekeeping.purge_nodes", ignore_result=False)
def purge_nodes() -> dict:
    policy = _policy()
    return retention.purge_nodes(policy.node_purge_ttl, batch_size=policy.batch_size).as_dict()


@shared_task(name="stagehand.housekeeping.purge_reports", ignore_result=False)
def purge_reports() -> dict:
    policy = _policy()
    return retention.purge_reports(policy.report_ttl, lock_timeout_ms=policy.lock_timeout_ms).as_dict()


@shared_task(name="stagehand.housekeeping.gc_catalog_history", ignore_result=False)
def gc_catalog_history() -> dict:
    policy = _policy()
    return retention.gc_catalog_history(policy.catalog_history_ttl, batch_size=policy.batch_size).as_dict()


@shared_task(name="stagehand.housekeeping.gc_packages", ignore_result=False)
def gc_packages() -> dict:
    return retention.gc_packages(batch_size=_policy().batch_size).as_dict()


@shared_task(name="stagehand.housekeeping.gc_fact_paths", ignore_result=False)
def gc_fact_paths() -> dict:
    return retention.gc_fact_paths(_policy().fact_path_gc_grace).as_dict()
