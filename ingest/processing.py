"""The worker side of the inbox: claim a batch, coalesce, parse, store, record the outcome.

``process_batch`` claims up to ``INGEST_BATCH_SIZE`` pending commands with
``SELECT ... FOR UPDATE SKIP LOCKED`` (so concurrent workers never take the same command),
holds them in one transaction and applies each in its own savepoint: a bad command rolls back
alone and is retried with backoff or kept as dead, the others commit together with their
``done`` state. A worker killed at any instant commits nothing of its batch, so every command is
applied exactly once in effect.

Coalescing: of several facts (or catalog) commands for one certname in a batch, only the one
with the newest ``producer_timestamp`` is applied; the others become ``superseded``. A command
older than what is stored is ``superseded`` too (storage reports it as "stale").
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import time
import zlib
from collections import Counter

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config import metrics  # ops: metrics
from ingest.commands import COALESCED, CommandError, normalise
from ingest.models import Command, CommandState
from inventory import signals
from inventory.storage import events, nodes
from inventory.storage.catalogs import store_catalog, store_catalog_inputs
from inventory.storage.facts import store_facts
from inventory.storage.lifecycle import configure_expiration, deactivate_node
from reports import partitions
from reports.parsing import ReportParseError, parse_report_body
from reports.storage import store_report

log = logging.getLogger(__name__)

# Order in which one certname's commands of a batch are applied.
_KIND_ORDER = {"replace_facts": 0, "replace_catalog": 1, "store_report": 2, "configure_expiration": 3}
_KIND_ORDER["deactivate_node"] = 4
_KIND_ORDER["replace_catalog_inputs"] = 5


class PermanentError(Exception):
    """The stored command can never be applied (it is kept as dead at once)."""


def decode_payload(payload: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        try:
            return gzip.decompress(payload)
        except (OSError, EOFError, zlib.error) as exc:
            raise PermanentError(f"stored payload is not valid gzip: {exc}") from None
    return payload


def decode_command(
    name: str,
    version: int,
    certname: str,
    payload: bytes,
    encoding: str,
    fmt: str,
    source: str,
    producer_timestamp: dt.datetime | None = None,
):
    """Raw inbox row -> normalised command (raises PermanentError). ``producer_timestamp`` (the
    inbox column, from the payload or the ``producer-timestamp`` parameter) fills a payload
    that has none."""
    body = decode_payload(bytes(payload), encoding)
    try:
        if source == "http":
            data = parse_report_body(body, fmt)
            version = 8
        else:
            data = orjson.loads(body)
        if isinstance(data, dict) and data.get("producer_timestamp") is None and producer_timestamp is not None:
            data["producer_timestamp"] = producer_timestamp
        return normalise(name, version, data, certname)
    except (CommandError, ReportParseError) as exc:
        raise PermanentError(str(exc)) from None
    except orjson.JSONDecodeError as exc:
        raise PermanentError(f"malformed JSON: {exc}") from None


def backoff(attempts: int) -> float:
    return min(settings.INGEST_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0)), 3600.0)


def _ensure_partitions() -> None:
    """Create report day partitions for pending reports before the batch transaction opens."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT (producer_timestamp AT TIME ZONE 'UTC')::date FROM ingest_command "
            "WHERE state = 'pending' AND command = 'store_report' AND producer_timestamp IS NOT NULL"
        )
        days = [r[0] for r in cursor.fetchall()]
    for day in days:
        partitions.ensure_day(day)


def _claim(cursor, ids: list[int] | None, limit: int) -> list[tuple]:
    cursor.execute(
        "SELECT id, command, version, certname, producer_timestamp, payload, payload_encoding, payload_format, "
        "source, attempts FROM ingest_command "
        "WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= clock_timestamp()) "
        "ORDER BY (id = ANY(%s)) DESC, received_at LIMIT %s FOR UPDATE SKIP LOCKED",
        [ids or [], limit],
    )
    return cursor.fetchall()


def _store(cursor, name: str, cmd: dict, now: dt.datetime, source: str) -> str:
    if name == "replace_facts":
        return store_facts(cursor, cmd, now)
    if name == "replace_catalog":
        return store_catalog(cursor, cmd, now)
    if name == "store_report":
        partitions.ensure_for(cmd["producer_timestamp"])
        return store_report(cursor, cmd, now, source="http" if source == "http" else "puppetdb")
    if name == "deactivate_node":
        return deactivate_node(cursor, cmd, now)
    if name == "configure_expiration":
        return configure_expiration(cursor, cmd, now)
    if name == "replace_catalog_inputs":
        return store_catalog_inputs(cursor, cmd, now)
    raise PermanentError(f"unknown command {name!r}")


def process_batch(ids: list[int] | None = None, limit: int | None = None) -> Counter:
    """Claim and apply one batch; returns counts by outcome (``claimed`` = batch size)."""
    limit = limit or settings.INGEST_BATCH_SIZE
    max_attempts = settings.INGEST_MAX_ATTEMPTS
    counts: Counter = Counter()
    _ensure_partitions()
    retries: list[tuple[int, float]] = []
    try:
        with transaction.atomic(), connection.cursor() as cursor, events.deferred():
            rows = _claim(cursor, ids, limit)
            counts["claimed"] = len(rows)
            if not rows:
                return counts
            now = timezone.now()
            updates: dict[int, dict] = {}
            dead: list[int] = []
            parsed = []
            for cid, name, version, certname, pts, payload, enc, fmt, source, attempts in rows:
                try:
                    cmd = decode_command(name, version, certname, payload, enc, fmt, source, pts)
                except PermanentError as exc:
                    updates[cid] = {"state": "dead", "attempts": attempts + 1, "err": str(exc)[:4000]}
                    dead.append(cid)
                    continue
                parsed.append((cid, name, cmd, source, attempts))
            # Coalesce: newest producer_timestamp per (certname, kind) wins within the batch.
            newest: dict[tuple[str, str], tuple] = {}
            for item in parsed:
                cid, name, cmd = item[0], item[1], item[2]
                if name in COALESCED:
                    key = (cmd["certname"], name)
                    best = newest.get(key)
                    if best is None or (cmd["producer_timestamp"] or now, cid) > (
                        best[2]["producer_timestamp"] or now,
                        best[0],
                    ):
                        newest[key] = item
            todo = []
            for item in parsed:
                if item[1] in COALESCED and newest[(item[2]["certname"], item[1])] is not item:
                    updates[item[0]] = {"state": "superseded", "attempts": item[4], "err": ""}
                    counts["superseded"] += 1
                else:
                    todo.append(item)
            todo.sort(key=lambda it: (it[2]["certname"], _KIND_ORDER[it[1]], it[2].get("producer_timestamp") or now))
            for cid, name, cmd, source, attempts in todo:
                mark, signal_mark = nodes.stage_mark(), events.mark()
                store_started = time.perf_counter()  # ops: metrics
                try:
                    with transaction.atomic():
                        outcome = _store(cursor, name, cmd, now, source)
                    metrics.COMMAND_PROCESSING_SECONDS.labels(command=name).observe(time.perf_counter() - store_started)
                except PermanentError as exc:
                    nodes.stage_rollback(mark)
                    events.rollback(signal_mark)
                    updates[cid] = {"state": "dead", "attempts": attempts + 1, "err": str(exc)[:4000]}
                    dead.append(cid)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad command must not fail the batch
                    nodes.stage_rollback(mark)
                    events.rollback(signal_mark)
                    tries = attempts + 1
                    err = f"{type(exc).__name__}: {exc}"[:4000]
                    log.warning("command failed", extra={"command_id": cid, "attempt": tries, "error": err})
                    if tries >= max_attempts:
                        updates[cid] = {"state": "dead", "attempts": tries, "err": err}
                        dead.append(cid)
                    else:
                        delay = backoff(tries)
                        updates[cid] = {
                            "state": "pending",
                            "attempts": tries,
                            "err": err,
                            "next": (now + dt.timedelta(seconds=delay)).isoformat(),
                        }
                        retries.append((cid, delay))
                        counts["retry"] += 1
                    continue
                state = "superseded" if outcome == "stale" else "done"
                updates[cid] = {"state": state, "attempts": attempts, "err": ""}
                counts[outcome] += 1
            counts["dead"] = len(dead)
            cursor.execute(
                "UPDATE ingest_command c SET state = x.state, attempts = x.attempts, last_error = x.err, "
                "next_attempt_at = x.next, "
                "processed_at = CASE WHEN x.state = 'pending' THEN NULL ELSE %s END "
                "FROM jsonb_to_recordset(%s::jsonb) AS x(id bigint, state text, attempts int, err text, "
                "next timestamptz) WHERE c.id = x.id",
                [now, orjson.dumps([{"id": k, **v} for k, v in updates.items()]).decode()],
            )
            if dead and signals.command_dead.has_listeners():
                for command in Command.objects.filter(id__in=dead):
                    events.emit(signals.command_dead, Command, command=command)
            # Signals last: receivers that serialise on a lock held until commit (the event
            # history) hold it only for the end of the batch.
            events.flush()
            transaction.on_commit(nodes.commit_caches)
    except Exception:
        nodes.discard_caches()
        raise
    metrics.record_batch({row[0]: row[1] for row in rows}, updates)  # ops: metrics, after commit
    for cid, delay in retries:
        from ingest.inbox import enqueue

        enqueue([cid], countdown=delay)
    return counts


def drain(ids: list[int] | None = None, budget_seconds: float | None = None) -> Counter:
    """Process batches while they come back full, for at most ``budget_seconds``."""
    budget = settings.INGEST_DRAIN_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    total: Counter = Counter()
    limit = settings.INGEST_BATCH_SIZE
    counts = process_batch(ids, limit)
    total.update(counts)
    while counts["claimed"] >= limit and time.monotonic() < deadline:
        counts = process_batch(None, limit)
        total.update(counts)
    return total


def wait_for(uuid, timeout: float) -> Command | None:
    """Poll until the command leaves ``pending`` (or failed once), or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        cmd = Command.objects.filter(uuid=uuid).only("state", "last_error", "attempts").first()
        if cmd is None:
            return None
        if cmd.state != CommandState.PENDING or cmd.attempts > 0 or time.monotonic() >= deadline:
            return cmd
        time.sleep(0.05)
