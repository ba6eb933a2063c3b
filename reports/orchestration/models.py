"""Event history, webhooks and webhook deliveries (app label ``reports``).

``Event`` is the bounded, PostgreSQL-backed history behind the SSE stream and webhooks. Rows are
written by the signal receivers inside the ingest transaction that stored the change. At COMMIT a
deferred trigger stamps ``seq`` (a bigserial-style sequence, used as the SSE event id) while
holding an advisory lock until the commit is done, so ``seq`` follows commit order: a reader that
has seen N never later sees a smaller one appear. Only the commit tail is serialised, never the
ingest transaction itself (which may hold node row locks: no deadlock is possible).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class EventKind(models.TextChoices):
    REPORT_STORED = "report_stored"
    NODE_STATUS_CHANGED = "node_status_changed"
    NODE_DEACTIVATED = "node_deactivated"
    COMMAND_DEAD = "command_dead"


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    # The stream position and SSE event id: stamped from its own sequence by a deferred constraint
    # trigger at COMMIT, under a transaction-level advisory lock, so it follows commit order
    # (``id`` follows insert order, which concurrent transactions commit out of). NULL only
    # inside the inserting transaction.
    seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    created = models.DateTimeField(db_default=models.functions.Now())
    kind = models.TextField(choices=EventKind.choices)
    certname = models.TextField(blank=True, default="")
    environment = models.TextField(blank=True, default="")
    # The report status for report_stored, the new status for node_status_changed.
    status = models.TextField(blank=True, default="")
    code_id = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["created"], name="hooks_event_created_idx")]

    def __str__(self) -> str:
        return f"#{self.id} {self.kind} {self.certname}"


class Webhook(models.Model):
    name = models.TextField()
    url = models.URLField(max_length=2000)
    # Needed in clear to sign; shown once at creation (and on rotation), never listed.
    secret = models.TextField()
    enabled = models.BooleanField(default=True)
    # Filters, the same as the event stream's; an empty list means "any".
    kinds = ArrayField(models.TextField(choices=EventKind.choices), default=list, blank=True)
    environments = ArrayField(models.TextField(), default=list, blank=True)
    statuses = ArrayField(models.TextField(), default=list, blank=True)
    node_query = models.JSONField(null=True, blank=True, help_text="PQL string or AST (inventory.query).")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    consecutive_failures = models.IntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True, default="")
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # waiting for its first or next attempt
    SENDING = "sending"  # claimed by a worker, request in flight
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every attempt failed
    CANCELLED = "cancelled"  # the hook was disabled or deleted before it succeeded


class WebhookDelivery(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, models.CASCADE, related_name="deliveries")
    # The history row (Event.id); the event may be pruned later, the body keeps what was sent.
    event_id = models.BigIntegerField(null=True, blank=True)
    kind = models.TextField()
    body = models.TextField(
        blank=True, help_text="The exact JSON sent (and signed), identical on every attempt; written by the first."
    )
    state = models.TextField(choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.IntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last attempt, for lists; every attempt is a WebhookAttempt row.
    response_status = models.IntegerField(null=True, blank=True)
    response_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["webhook", "-id"], name="hooks_delivery_hook_idx"),
            models.Index(
                fields=["next_attempt_at"],
                name="hooks_delivery_due_idx",
                condition=Q(state__in=["pending", "sending"]),
            ),
        ]


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, models.CASCADE, related_name="attempt_log")
    number = models.IntegerField()
    started = models.DateTimeField()
    response_status = models.IntegerField(null=True, blank=True)
    response_ms = models.FloatField()
    error = models.TextField(blank=True, default="")
    succeeded = models.BooleanField()

    class Meta:
        ordering = ["delivery", "number"]
