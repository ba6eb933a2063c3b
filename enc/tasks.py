"""Celery tasks of the classification area (housekeeping queue)."""

from __future__ import annotations

from celery import shared_task

from enc import fleet


@shared_task(name="stagehand.housekeeping.enc_fleet_sync", ignore_result=True)
def enc_fleet_sync() -> None:
    """Fold the nodes whose facts changed into the precomputed membership (enc.fleet), so a
    members page or a preview rarely has more than a few seconds of fact changes to catch up."""
    fleet.sync()
