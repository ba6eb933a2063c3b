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


# --- fleet-wide evaluation (enc.fleet): precomputed membership for the management API and UI ---
# The ENC process never reads these tables: classification evaluates rules on the request's facts.


class FleetState(models.Model):
    """One row (id 1): which classification (version, changed) the membership table holds and
    which fact paths ``FleetNode.vals`` holds (in that order). Writers lock this row."""

    id = models.SmallIntegerField(primary_key=True, default=STATE_ID)
    version = models.BigIntegerField(null=True)
    changed = models.DateTimeField(null=True)
    paths = models.JSONField(default=list, help_text='[["fact", "os", "family"], ["trusted", "extensions", ...]]')


class FleetNode(models.Model):
    """Per node: the values at ``FleetState.paths`` (the fact paths the rules read), in order.
    No foreign key: the inventory deletes nodes with set-based SQL; ``FleetDirty`` reports it."""

    node_id = models.BigIntegerField(primary_key=True)
    certname = models.TextField()
    vals = models.JSONField()


class FleetDirty(models.Model):
    """Nodes whose facts, certname or existence changed since ``FleetNode`` was computed, at most
    one row per node, written by database triggers on ``inventory_factset`` and
    ``inventory_node`` (migration 0003) whatever code writes them. ``seq`` changes on every write
    (an upsert, which also locks the row), so ``enc.fleet.sync`` deletes only the entries it has
    processed: an entry rewritten meanwhile stays for the next sync."""

    node_id = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField()


class Membership(models.Model):
    """A node (any, active or not) in a non-root group, as of ``FleetState.version``."""

    pk = models.CompositePrimaryKey("group_id", "certname", "node_id")
    group_id = models.UUIDField()
    certname = models.TextField()
    node_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["node_id"], name="enc_membership_node_idx")]
