"""The inbox: write raw commands durably, hand them to workers, re-queue and replay them.

Plain functions other areas (importers, the API, management commands) call:

* ``submit(command, version, certname, payload_bytes, ...)`` -> Command (committed with the
  caller's transaction; the worker task is published on commit).
* ``replay(command_ids)`` -> int: dead commands back to pending, re-queued.
* ``requeue_stuck(older_than)`` -> int: publish tasks for pending commands nobody is processing
  (a lost broker message, a killed worker); run by beat.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config import metrics  # ops: metrics
from ingest.models import Command, CommandState

log = logging.getLogger(__name__)


def enqueue(ids: list[int], countdown: float | None = None) -> bool:
    """Publish a processing task; never raises (a lost message is recovered by ``requeue_stuck``)."""
    from ingest.tasks import process_commands

    try:
        process_commands.apply_async(args=[ids], countdown=countdown, retry=False)
        return True
    except Exception as exc:  # noqa: BLE001 - broker down: beat re-queues later
        log.warning("could not publish ingest task", extra={"error": str(exc), "ids": ids[:10]})
        return False


def submit(
    command: str,
    version: int,
    certname: str,
    payload_bytes: bytes,
    *,
    producer_timestamp: dt.datetime | None = None,
    payload_encoding: str = "identity",
    payload_format: str = "json",
    source: str = "puppetdb",
    request_id: str = "",
    publish: bool = True,
) -> Command:
    """Store one raw command (already validated by the caller) and queue it after commit."""
    cmd = Command.objects.create(
        command=command,
        version=version,
        certname=certname,
        producer_timestamp=producer_timestamp,
        payload=payload_bytes,
        payload_encoding=payload_encoding,
        payload_format=payload_format,
        source=source,
        request_id=request_id,
    )
    if publish:
        transaction.on_commit(lambda: enqueue([cmd.id]))
    transaction.on_commit(lambda: metrics.COMMANDS_RECEIVED.labels(command=command, source=source).inc())  # ops
    return cmd


def replay(command_ids: Iterable[int]) -> int:
    """Put dead commands back to pending (attempts reset) and queue them; returns how many."""
    ids = list(command_ids)
    if not ids:
        return 0
    with transaction.atomic():
        replayed = list(Command.objects.filter(id__in=ids, state=CommandState.DEAD).values_list("id", flat=True))
        Command.objects.filter(id__in=replayed).update(
            state=CommandState.PENDING, attempts=0, next_attempt_at=None, processed_at=None
        )
        for start in range(0, len(replayed), 500):
            chunk = replayed[start : start + 500]
            transaction.on_commit(lambda chunk=chunk: enqueue(chunk))
    return len(replayed)


def requeue_stuck(older_than: float | None = None, limit: int = 100_000) -> int:
    """Publish tasks for pending commands received more than ``older_than`` seconds ago (or due
    for a retry). Commands a worker holds are skipped by its ``FOR UPDATE SKIP LOCKED``."""
    if older_than is None:
        older_than = settings.INGEST_REQUEUE_AFTER
    cutoff = timezone.now() - dt.timedelta(seconds=older_than)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM ingest_command WHERE state = 'pending' AND received_at < %s "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= clock_timestamp()) ORDER BY received_at LIMIT %s",
            [cutoff, limit],
        )
        ids = [r[0] for r in cursor.fetchall()]
    batch = settings.INGEST_BATCH_SIZE
    for start in range(0, len(ids), batch):
        enqueue(ids[start : start + batch])
    if ids:
        log.info("re-queued pending commands", extra={"count": len(ids)})
    return len(ids)


def purge_processed(keep_seconds: float | None = None) -> int:
    """Delete done and superseded commands processed more than ``keep_seconds`` ago (dead ones
    are kept until replayed or deleted by an operator)."""
    if keep_seconds is None:
        keep_seconds = settings.INGEST_KEEP_PROCESSED_SECONDS
    cutoff = timezone.now() - dt.timedelta(seconds=keep_seconds)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM ingest_command WHERE state IN ('done', 'superseded') AND processed_at < %s", [cutoff]
        )
        return cursor.rowcount
