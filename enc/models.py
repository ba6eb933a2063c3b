"""Classification (ENC) storage: node groups, the classification version, the audit log.

* ``NodeGroup``: a tree under the root group "All nodes" (``ROOT_ID``, PE's root uuid). A group
  has a rule (JSONB, the PE classifier grammar, see ``enc.rules``), pinned certnames, classes with
  parameters ``{class: {param: value}}``, variables (top-scope parameters) ``{name: value}``, an
  environment and the ``environment_trumps`` flag (an *environment group*).
* ``ClassificationState``: one row (id 1) holding ``version``. Every change to any group bumps it
  in the same transaction (writers lock the row first, so changes are serialised). The ENC
  process caches compiled groups in memory only behind this number, read on every request.
* ``AuditEntry``: one row per change: version, who (user and token), when, action, before/after.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

ROOT_ID = uuid.UUID("00000000-0000-4000-8000-000000000000")
ROOT_NAME = "All nodes"
STATE_ID = 1


class NodeGroup(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.TextField(unique=True)
    description = models.TextField(blank=True, default="")
    # NULL only for the root group.
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children")
    # A PE classifier rule, or NULL (matches no node except pinned ones; the root matches all).
    rule = models.JSONField(null=True, blank=True)
    pinned = ArrayField(models.TextField(), default=list, blank=True)
    classes = models.JSONField(default=dict, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    environment = models.TextField(blank=True, default="")
    environment_trumps = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    last_edited = models.DateTimeField(auto_now=True)
    # Bumped on every change of this group (PE's serial_number).
    serial = models.BigIntegerField(default=1)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["parent"], name="enc_group_parent_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_root(self) -> bool:
        return self.id == ROOT_ID


class ClassificationState(models.Model):
    id = models.SmallIntegerField(primary_key=True, default=STATE_ID)
    version = models.BigIntegerField(default=1)
    changed = models.DateTimeField(auto_now=True)


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"

    version = models.BigIntegerField(help_text="The classification version this change produced.")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.TextField(help_text="User name, or '-' when unknown.")
    token = models.TextField(blank=True, default="", help_text="Name of the API token used, if any.")
    action = models.TextField(choices=Action.choices)
    # No foreign key: the entry outlives the group.
    group_id = models.UUIDField()
    group_name = models.TextField()
    changed_fields = ArrayField(models.TextField(), default=list, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["group_id", "-id"], name="enc_audit_group_idx")]
