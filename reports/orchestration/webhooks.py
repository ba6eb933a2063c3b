"""Webhooks: matching events to hooks, signing, delivering with retries, disabling.

Signature: every POST carries ``X-Stagehand-Signature-256: sha256=<hex>``, the HMAC-SHA256 of
the exact request body with the hook's secret as key. Receivers recompute it over the raw body
and compare in constant time (``verify``). Other headers: ``X-Stagehand-Event`` (the kind),
``X-Stagehand-Delivery`` (a UUID, the same on every retry: use it to de-duplicate) and
``X-Stagehand-Attempt``.

Delivery rows are created in the transaction that recorded the event; a Celery task
(``stagehand.hooks.deliver``) sends them after commit. A failed attempt is retried with
exponential backoff (``WEBHOOK_RETRY_BASE_SECONDS`` doubling up to ``WEBHOOK_RETRY_MAX_SECONDS``,
``WEBHOOK_MAX_ATTEMPTS`` in all); after ``WEBHOOK_DISABLE_AFTER_FAILURES`` consecutive failed
attempts the hook is disabled with the reason, and its queued deliveries are cancelled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import random
import secrets
import time
import urllib.error
import urllib.request

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from reports.orchestration.filters import EventFilter
from reports.orchestration.models import DeliveryState, Event, Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Stagehand-Signature-256"
USER_AGENT = "Stagehand-Webhook/1"


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute the signature over the raw body, compare in constant time."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


def hook_filter(hook: Webhook) -> EventFilter:
    return EventFilter(
        kinds=list(hook.kinds),
        environments=list(hook.environments),
        statuses=list(hook.statuses),
        query=hook.node_query,
    )


class _EnabledHooks:
    """The enabled hooks, cached per process for HOOKS_WEBHOOK_CACHE_SECONDS so the ingest hot
    path does not query them for every event. Saving or deleting a hook clears the cache of the
    process that did it; other processes see the change within the TTL."""

    def __init__(self):
        self._hooks: list[Webhook] | None = None
        self._loaded = 0.0

    def get(self) -> list[Webhook]:
        ttl = settings.HOOKS_WEBHOOK_CACHE_SECONDS
        if self._hooks is None or time.monotonic() - self._loaded > ttl:
            self._hooks = list(Webhook.objects.filter(enabled=True))
            self._loaded = time.monotonic()
        return self._hooks

    def clear(self, **_kwargs) -> None:
        self._hooks = None


enabled_hooks = _EnabledHooks()
post_save.connect(enabled_hooks.clear, sender=Webhook, dispatch_uid="hooks.webhook_cache_save")
post_delete.connect(enabled_hooks.clear, sender=Webhook, dispatch_uid="hooks.webhook_cache_delete")


def matching_hooks(event: Event) -> list[Webhook]:
    hooks = []
    for hook in enabled_hooks.get():
        flt = hook_filter(hook)
        if not flt.matches_columns(event):
            continue
        if flt.query is not None:
            try:
                if event.certname not in flt.query_matches({event.certname}):
                    continue
            except Exception:  # noqa: BLE001 - a hook's bad query must not break the others
                log.warning("webhook %s: node query failed", hook.pk, exc_info=True)
                continue
        hooks.append(hook)
    return hooks


def body_for(event_payload: dict, hook: Webhook, delivery_uuid) -> str:
    return orjson.dumps(
        {
            "delivery": str(delivery_uuid),
            "webhook": {"id": hook.pk, "name": hook.name},
            "event": event_payload,
        }
    ).decode()


def fan_out(event: Event) -> list[WebhookDelivery]:
    """Create the deliveries of one event (in the caller's transaction); send them after commit.

    The body is written by the first attempt, once the event has its stream id (stamped at
    commit), and is then the same bytes on every retry."""
    hooks = matching_hooks(event)
    if not hooks:
        return []
    return create_deliveries(hooks, event.id, event.kind, None)


def _event_payload(delivery: WebhookDelivery) -> dict:
    from reports.orchestration.stream import event_json

    event = Event.objects.filter(pk=delivery.event_id).first() if delivery.event_id else None
    if event is None:  # pruned before it could be sent (only after a very long outage)
        return {"id": None, "kind": delivery.kind, "data": {}, "note": "event no longer kept"}
    return event_json(event)


def create_deliveries(hooks, event_id, kind, payload: dict | None) -> list[WebhookDelivery]:
    """Delivery rows for the hooks that are still there and enabled: they are locked FOR KEY SHARE
    until commit, so a hook deleted concurrently (or one a stale cache still lists) can never make
    the caller's transaction — an ingest transaction — fail its foreign-key check at commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM reports_webhook WHERE id = ANY(%s) AND enabled FOR KEY SHARE", [[h.pk for h in hooks]]
        )
        live = {row[0] for row in cursor.fetchall()}
    now = timezone.now()
    deliveries = []
    for hook in hooks:
        if hook.pk not in live:
            continue
        delivery = WebhookDelivery(webhook=hook, event_id=event_id, kind=kind, next_attempt_at=now)
        delivery.body = body_for(payload, hook, delivery.uuid) if payload is not None else ""
        deliveries.append(delivery)
    if not deliveries:
        return []
    WebhookDelivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: enqueue(ids))
    return deliveries


def ping(hook: Webhook) -> WebhookDelivery | None:
    """A test delivery to one hook (whatever its filters), e.g. after registering it."""
    payload = {
        "id": None,
        "kind": "ping",
        "created": timezone.now().isoformat().replace("+00:00", "Z"),
        "data": {"message": "Stagehand webhook ping", "webhook": hook.name},
    }
    created = create_deliveries([hook], None, "ping", payload)
    return created[0] if created else None


def enqueue(ids, countdown: float | None = None) -> None:
    from reports.orchestration.tasks import deliver

    for delivery_id in ids:
        try:
            deliver.apply_async((delivery_id,), countdown=countdown)
        except Exception:  # noqa: BLE001 - the broker is down: requeue_deliveries picks it up
            log.warning("could not enqueue webhook delivery %s", delivery_id, exc_info=True)


def backoff(attempts: int, *, jitter: bool = True) -> float:
    """Seconds before the next try after ``attempts`` failed tries."""
    delay = min(settings.WEBHOOK_RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1)), settings.WEBHOOK_RETRY_MAX_SECONDS)
    return delay * (random.uniform(0.8, 1.0) if jitter else 1.0)  # noqa: S311 - not security


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an answer, not something to follow with the signed body


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int | None, float, str]:
    """POST; returns (HTTP status or None, milliseconds, error text or "")."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    status, error = None, ""
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            response.read(65536)
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            detail = exc.read(300).decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001
            detail = ""
        error = f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    if status is not None and not 200 <= status < 300 and not error:
        error = f"HTTP {status}"
    return status, elapsed, error


def attempt(delivery_id: int) -> float | None:
    """Make one attempt at a delivery. Returns the seconds until the next try, or None when there
    is nothing more to do (succeeded, failed for good, cancelled, or not ours to send)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(pk=delivery_id, state=DeliveryState.PENDING)
            .first()
        )
        if delivery is None:
            return None
        hook = delivery.webhook
        if not hook.enabled:
            delivery.state = DeliveryState.CANCELLED
            delivery.error = f"webhook disabled: {hook.disabled_reason or 'by an operator'}"
            delivery.finished_at = now
            delivery.save(update_fields=["state", "error", "finished_at"])
            return None
        if delivery.next_attempt_at and delivery.next_attempt_at > now + dt.timedelta(seconds=1):
            return (delivery.next_attempt_at - now).total_seconds()  # an early (duplicate) message
        if not delivery.body:
            delivery.body = body_for(_event_payload(delivery), hook, delivery.uuid)
        delivery.state = DeliveryState.SENDING
        delivery.claimed_at = now
        delivery.attempts += 1
        delivery.save(update_fields=["state", "claimed_at", "attempts", "body"])
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Stagehand-Event": delivery.kind,
        "X-Stagehand-Delivery": str(delivery.uuid),
        "X-Stagehand-Attempt": str(delivery.attempts),
        SIGNATURE_HEADER: sign(hook.secret, body),
    }
    status, elapsed, error = post(hook.url, body, headers, settings.WEBHOOK_TIMEOUT_SECONDS)
    return _record(delivery, hook, now, status, elapsed, error)


def _record(delivery, hook, started, status, elapsed, error) -> float | None:
    ok = not error
    now = timezone.now()
    retry_in = None
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started=started,
            response_status=status,
            response_ms=elapsed,
            error=error[:2000],
            succeeded=ok,
        )
        delivery.response_status = status
        delivery.response_ms = elapsed
        delivery.error = error[:2000]
        if ok:
            delivery.state = DeliveryState.SUCCEEDED
            delivery.finished_at = now
            Webhook.objects.filter(pk=hook.pk).update(consecutive_failures=0, last_delivery_at=now, last_success_at=now)
        else:
            Webhook.objects.filter(pk=hook.pk).update(
                consecutive_failures=F("consecutive_failures") + 1, last_delivery_at=now
            )
            hook = Webhook.objects.select_for_update(no_key=True).get(pk=hook.pk)
            limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
            if hook.enabled and hook.consecutive_failures >= limit:
                hook.enabled = False
                hook.disabled_at = now
                hook.disabled_reason = (
                    f"disabled automatically after {hook.consecutive_failures} consecutive failed delivery "
                    f"attempts; last error: {error[:500]}"
                )
                hook.save(update_fields=["enabled", "disabled_at", "disabled_reason"])
                WebhookDelivery.objects.filter(webhook=hook, state=DeliveryState.PENDING).exclude(
                    pk=delivery.pk
                ).update(state=DeliveryState.CANCELLED, finished_at=now, error="webhook disabled: too many failures")
            if not hook.enabled:
                delivery.state = DeliveryState.FAILED
                delivery.finished_at = now
                delivery.error = (delivery.error + " (webhook disabled; no more retries)")[:2000]
            elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                delivery.state = DeliveryState.FAILED
                delivery.finished_at = now
            else:
                retry_in = backoff(delivery.attempts)
                delivery.state = DeliveryState.PENDING
                delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in)
        delivery.save(
            update_fields=["state", "finished_at", "response_status", "response_ms", "error", "next_attempt_at"]
        )
    log.info(
        "webhook delivery",
        extra={
            "webhook": hook.pk,
            "delivery": str(delivery.uuid),
            "attempt": delivery.attempts,
            "status": status,
            "outcome": delivery.state,
            "duration_ms": elapsed,
        },
    )
    return retry_in


def requeue_stale(now=None) -> list[int]:
    """Deliveries whose message was lost (broker restart) or whose worker died mid-request:
    put them back in the queue. Run periodically by beat."""
    now = now or timezone.now()
    grace = dt.timedelta(seconds=60)
    stuck_sending = now - dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS) - grace
    with transaction.atomic():
        stuck = list(
            WebhookDelivery.objects.filter(state=DeliveryState.SENDING, claimed_at__lt=stuck_sending).values_list(
                "pk", flat=True
            )[:1000]
        )
        WebhookDelivery.objects.filter(pk__in=stuck).update(
            state=DeliveryState.PENDING, next_attempt_at=now, error="worker lost during the attempt"
        )
        ids = stuck + list(
            WebhookDelivery.objects.filter(state=DeliveryState.PENDING)
            .filter(Q(next_attempt_at__lt=now - grace) | Q(next_attempt_at__isnull=True))
            .values_list("pk", flat=True)[:1000]
        )
    enqueue(ids)
    return ids


def enable(hook: Webhook) -> None:
    hook.enabled = True
    hook.disabled_at = None
    hook.disabled_reason = ""
    hook.consecutive_failures = 0
    hook.save(update_fields=["enabled", "disabled_at", "disabled_reason", "consecutive_failures", "updated"])


def disable(hook: Webhook, reason: str) -> None:
    hook.enabled = False
    hook.disabled_at = timezone.now()
    hook.disabled_reason = reason
    hook.save(update_fields=["enabled", "disabled_at", "disabled_reason", "updated"])
    WebhookDelivery.objects.filter(webhook=hook, state=DeliveryState.PENDING).update(
        state=DeliveryState.CANCELLED, finished_at=timezone.now(), error=f"webhook disabled: {reason}"
    )
