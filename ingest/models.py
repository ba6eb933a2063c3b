"""The command inbox: every write is committed here, raw, before the HTTP answer (DESIGN §2)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class CommandState(models.TextChoices):
    PENDING = "pending"  # committed, waiting for (or being retried by) a worker
    DONE = "done"  # applied
    SUPERSEDED = "superseded"  # skipped: a newer command for the same certname and kind won
    DEAD = "dead"  # failed on every try; kept with its error, replayable


class Command(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Normalised command name with underscores: replace_facts, replace_catalog, store_report,
    # deactivate_node, configure_expiration.
    command = models.TextField()
    version = models.SmallIntegerField()
    certname = models.TextField()
    producer_timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # The body exactly as received (after HTTP gzip decoding, possibly re-compressed by the
    # receiver: see ``payload_encoding``), and its format.
    payload = models.BinaryField()
    payload_encoding = models.TextField(default="identity", help_text="identity or gzip")
    payload_format = models.TextField(default="json", help_text="json or yaml")
    source = models.TextField(default="puppetdb", help_text="puppetdb (cmd API) or http (report processor)")
    state = models.TextField(choices=CommandState.choices, default=CommandState.PENDING)
    attempts = models.SmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)
    request_id = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["received_at"], name="command_pending_idx", condition=Q(state=CommandState.PENDING)),
            models.Index(fields=["certname", "command"], name="command_certname_idx"),
            models.Index(fields=["state", "-received_at"], name="command_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.command} v{self.version} {self.certname} ({self.state})"
