"""The event stream: Server-Sent Events from the bounded event history in PostgreSQL.

Each SSE event's ``id`` is the history row's ``seq`` (a sequence stamped in commit order, see
``models.Event``), so a client that reconnects with ``Last-Event-ID`` gets exactly the events after
the last one it saw, as long as they are still kept (``EVENTS_HISTORY_MAX_ROWS`` /
``EVENTS_HISTORY_MAX_AGE_HOURS``); when some were pruned, the stream starts with a ``gap`` event.
A stream ends after a bounded time (``EVENTS_STREAM_MAX_SECONDS``) and clients reconnect.
"""

from __future__ import annotations

import time

import orjson
from django.db.models import Max, Min

from reports.orchestration import notify
from reports.orchestration.filters import EventFilter
from reports.orchestration.models import Event

BATCH = 500


def event_json(event: Event) -> dict:
    return {
        "id": event.seq,
        "kind": event.kind,
        "created": event.created.isoformat().replace("+00:00", "Z") if event.created else None,
        "certname": event.certname or None,
        "environment": event.environment or None,
        "status": event.status or None,
        "code_id": event.code_id or None,
        "data": event.data,
    }


def sse(event_id: int | None, kind: str, payload: dict) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: ".encode() + orjson.dumps(payload) + b"\n\n"


def latest_id() -> int:
    return Event.objects.aggregate(top=Max("seq"))["top"] or 0


def fetch(after: int, flt: EventFilter, limit: int = BATCH) -> tuple[list[Event], int, bool]:
    """Events after ``after`` matching ``flt`` (at most ``limit``), the position to continue
    from (past the events the filter skipped), and whether more may be waiting."""
    top = latest_id()
    if top <= after:
        return [], after, False
    rows = list(flt.apply(Event.objects.filter(seq__gt=after, seq__lte=top)).order_by("seq")[:limit])
    more = len(rows) == limit
    position = rows[-1].seq if more else top
    if flt.query is not None and rows:
        selected = flt.query_matches({row.certname for row in rows})
        rows = [row for row in rows if row.certname in selected]
    return rows, position, more


def gap_before(after: int) -> dict | None:
    oldest = Event.objects.aggregate(low=Min("seq"))["low"]
    if oldest is not None and after + 1 < oldest:
        return {"last_event_id": after, "oldest_kept_id": oldest, "message": "events in between were pruned"}
    return None


def stream(
    after: int,
    flt: EventFilter,
    *,
    max_seconds: float,
    heartbeat: float,
    poll: float,
    safety_poll: float,
    hub=None,
    on_close=None,
    check_gap: bool = True,
    min_interval: float = 0.0,
):
    """Generator of SSE chunks. Holds no database connection between batches."""
    hub = hub or notify.hub
    try:
        deadline = time.monotonic() + max_seconds
        yield b"retry: 2000\n\n"
        hub.ensure_started()
        if check_gap:
            gap = gap_before(after)
            if gap:
                yield sse(None, "gap", gap)
        next_beat = time.monotonic() + heartbeat
        while True:
            seq = hub.seq
            rows, after, more = fetch(after, flt)
            for row in rows:
                yield sse(row.seq, row.kind, event_json(row))
            notify.release_connection()
            now = time.monotonic()
            if now >= deadline:
                yield sse(None, "end", {"last_event_id": after, "reconnect": True})
                return
            if more:
                continue
            if now >= next_beat:
                yield b": keepalive\n\n"
                next_beat = now + heartbeat
            if min_interval:  # coalesce bursts of events into one read per interval
                time.sleep(min(min_interval, max(0.0, deadline - now)))
                now = time.monotonic()
            pause = safety_poll if hub.listening else poll
            hub.wait(seq, max(0.0, min(deadline, next_beat, now + pause) - now))
    finally:
        notify.release_connection()
        if on_close is not None:
            on_close()
