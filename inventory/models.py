"""Nodes, environments, producers, facts and catalogs (with history).

Storage contract (DESIGN §3), relied on by ingest, the query compiler, the ENC and the UI:

* ``Node`` carries denormalised "latest" columns, updated by the ingest transaction that stores
  the data they summarise, so status views never scan reports.
* ``Factset``: one row per node. The node's facts are ``stable || volatile`` (JSONB merge; a key is
  in exactly one of the two). Facts that changed recently live in the small ``volatile`` document,
  so a run that changes two facts rewrites only that document, not the large TOASTed ``stable``.
  ``trusted`` facts are the ``trusted`` key of the document, as PuppetDB stores them.
* ``FactPath``: every fact path seen in the fleet, for discovery and autocomplete.
* Catalogs are content-addressed: ``Resource`` rows (type, title, parameters, tags, exported, file,
  line) are stored once for the whole fleet; a ``ResourceSet`` is a sorted array of resource ids,
  stored once per distinct set; an ``EdgeSet`` likewise for edges. A ``Catalog`` row is one version
  of one node's catalog and the time range it was current (``valid_from`` .. ``valid_to``; the
  current one has ``valid_to`` NULL). Re-submitting an identical catalog only refreshes the
  current row's metadata.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q


class Environment(models.Model):
    name = models.TextField(unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Producer(models.Model):
    """The Puppet Server (or masterless node) that produced a command."""

    name = models.TextField(unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReportStatus(models.TextChoices):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"


class CachedCatalogStatus(models.TextChoices):
    NOT_USED = "not_used"
    EXPLICITLY_REQUESTED = "explicitly_requested"
    ON_FAILURE = "on_failure"


class NodeQuerySet(models.QuerySet):
    def active(self):
        return self.filter(deactivated__isnull=True, expired__isnull=True)

    def inactive(self):
        return self.filter(Q(deactivated__isnull=False) | Q(expired__isnull=False))


class Node(models.Model):
    certname = models.TextField(unique=True)
    created = models.DateTimeField(auto_now_add=True)
    # Lifecycle (PuppetDB semantics): a deactivated or expired node is inactive; any new
    # command for it clears both.
    deactivated = models.DateTimeField(null=True, blank=True)
    expired = models.DateTimeField(null=True, blank=True)
    expires_facts = models.BooleanField(default=True)
    expires_facts_updated = models.DateTimeField(null=True, blank=True)

    # Latest factset.
    facts_timestamp = models.DateTimeField(null=True, blank=True)
    facts_producer_timestamp = models.DateTimeField(null=True, blank=True)
    facts_environment = models.ForeignKey(Environment, models.PROTECT, null=True, blank=True, related_name="+")

    # Latest (current) catalog.
    catalog_timestamp = models.DateTimeField(null=True, blank=True)
    catalog_producer_timestamp = models.DateTimeField(null=True, blank=True)
    catalog_environment = models.ForeignKey(Environment, models.PROTECT, null=True, blank=True, related_name="+")
    latest_catalog = models.ForeignKey(
        "inventory.Catalog", models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    latest_catalog_code_id = models.TextField(null=True, blank=True)

    # Latest report. Reports live in a partitioned table, so the id is a plain column.
    report_timestamp = models.DateTimeField(null=True, blank=True)
    report_environment = models.ForeignKey(Environment, models.PROTECT, null=True, blank=True, related_name="+")
    latest_report_id = models.BigIntegerField(null=True, blank=True)
    # report_timestamp is the latest report's producer_timestamp (its partition key);
    # PuppetDB's nodes.report_timestamp is that report's end_time, kept here.
    latest_report_end_time = models.DateTimeField(null=True, blank=True)
    latest_report_hash = models.TextField(null=True, blank=True)
    latest_report_status = models.TextField(choices=ReportStatus.choices, null=True, blank=True)
    latest_report_noop = models.BooleanField(null=True, blank=True)
    latest_report_noop_pending = models.BooleanField(null=True, blank=True)
    latest_report_corrective_change = models.BooleanField(null=True, blank=True)
    latest_report_job_id = models.TextField(null=True, blank=True)
    latest_report_code_id = models.TextField(null=True, blank=True)
    latest_report_configuration_version = models.TextField(null=True, blank=True)
    latest_report_transaction_uuid = models.TextField(null=True, blank=True)
    cached_catalog_status = models.TextField(choices=CachedCatalogStatus.choices, null=True, blank=True)

    objects = NodeQuerySet.as_manager()

    class Meta:
        ordering = ["certname"]
        indexes = [
            models.Index(fields=["latest_report_status", "certname"], name="node_status_idx"),
            models.Index(fields=["report_timestamp"], name="node_report_ts_idx"),
            models.Index(
                fields=["certname"],
                name="node_active_certname_idx",
                condition=Q(deactivated__isnull=True, expired__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.certname

    @property
    def is_active(self) -> bool:
        return self.deactivated is None and self.expired is None


class Factset(models.Model):
    node = models.OneToOneField(Node, models.CASCADE, primary_key=True, related_name="factset")
    # The node's certname, copied by a database trigger on every insert (migration 0011): the
    # query API lists facts and inventory by certname without reading the node rows.
    certname = models.TextField(default="", editable=False, help_text="The node's certname (kept by a trigger).")
    # Whether the node is active (neither deactivated nor expired), kept by database triggers
    # (migration 0016): fact queries exclude inactive nodes without a lookup per row.
    node_active = models.BooleanField(default=True, editable=False, help_text="The node is active (kept by triggers).")
    environment = models.ForeignKey(Environment, models.PROTECT, null=True, blank=True, related_name="+")
    producer = models.ForeignKey(Producer, models.PROTECT, null=True, blank=True, related_name="+")
    timestamp = models.DateTimeField(help_text="When Stagehand stored this factset.")
    producer_timestamp = models.DateTimeField()
    # sha1 hex of the whole fact document in PuppetDB's canonical form (the factset ``hash``).
    hash = models.TextField()
    stable = models.JSONField(default=dict)
    volatile = models.JSONField(default=dict)
    # sha1 hex of the sorted set of (path, type) pairs; FactPath is refreshed only when it changes.
    paths_hash = models.TextField(blank=True, default="")
    package_hash = models.TextField(blank=True, default="")
    package_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)

    class Meta:
        indexes = [
            GinIndex(fields=["stable"], name="factset_stable_gin", opclasses=["jsonb_path_ops"]),
            GinIndex(fields=["volatile"], name="factset_volatile_gin", opclasses=["jsonb_path_ops"]),
            GinIndex(fields=["package_ids"], name="factset_packages_gin"),
        ]

    @property
    def facts(self) -> dict:
        return {**self.stable, **self.volatile}


class FactPath(models.Model):
    """A fact path seen anywhere in the fleet (PuppetDB's ``fact-paths``)."""

    class ValueType(models.TextChoices):
        STRING = "string"
        INTEGER = "integer"
        FLOAT = "float"
        BOOLEAN = "boolean"
        NULL = "null"
        HASH = "hash"
        ARRAY = "array"

    # ``path`` holds the segments; array indexes are stored as their decimal text and ``path_key``
    # is the JSON encoding of the segments with indexes as integers, e.g. ["disks","sda","size"].
    path = ArrayField(models.TextField())
    path_key = models.TextField()
    name = models.TextField(help_text="Top-level fact name (the first segment).")
    depth = models.PositiveSmallIntegerField()
    value_type = models.TextField(choices=ValueType.choices)
    last_seen = models.DateTimeField()
    # Set by the fact-path GC when no factset holds the path; the row is deleted by a later GC
    # run (``retention.gc_fact_paths``), cleared when the path is stored again.
    unused_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["path_key", "value_type"], name="factpath_unique"),
        ]
        indexes = [
            models.Index(fields=["name"], name="factpath_name_idx"),
            # The few rows the GC marked: ingest clears a mark through it (storage.facts).
            models.Index(
                fields=["path_key", "value_type"],
                condition=models.Q(unused_since__isnull=False),
                name="factpath_unused_idx",
            ),
        ]


class Package(models.Model):
    """A (name, version, provider) tuple from a facts command's ``package_inventory``."""

    name = models.TextField()
    version = models.TextField()
    provider = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version", "provider"], name="package_unique"),
        ]


class Resource(models.Model):
    """A catalog resource, stored once for the whole fleet.

    ``hash`` is the 20-byte sha1 of the canonical JSON of
    ``[type, title, parameters, sorted(tags), exported, file, line]``; PuppetDB's per-resource
    ``resource`` hash (sha1 of type, title, parameters) is kept in ``resource_hash``.
    """

    hash = models.BinaryField(unique=True)
    resource_hash = models.TextField(help_text="PuppetDB's resource hash (sha1 hex of type, title, parameters).")
    type = models.TextField()
    title = models.TextField()
    exported = models.BooleanField(default=False)
    file = models.TextField(null=True, blank=True)
    line = models.IntegerField(null=True, blank=True)
    tags = ArrayField(models.TextField(), default=list, blank=True)
    parameters = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["type", "title"], name="resource_type_title_idx"),
            models.Index(fields=["title"], name="resource_title_idx"),
            GinIndex(fields=["tags"], name="resource_tags_gin"),
            GinIndex(fields=["parameters"], name="resource_params_gin", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.type}[{self.title}]"


class ResourceSet(models.Model):
    """A distinct set of resources; many catalogs (nodes and versions) share one.

    The database also keeps ``inventory_classmember`` (resource id of a class, set id), a B-tree
    of the sets' classes maintained by triggers on this table (migration 0012): "the sets holding
    class X" is an index-only scan there."""

    hash = models.BinaryField(unique=True, help_text="sha1 of the sorted resource hashes.")
    resource_ids = ArrayField(models.BigIntegerField(), help_text="Sorted ascending.")
    size = models.IntegerField()

    class Meta:
        indexes = [GinIndex(fields=["resource_ids"], name="resourceset_ids_gin")]


class EdgeSet(models.Model):
    """A distinct set of edges: ``edges`` is a sorted JSON list of
    ``[source_type, source_title, relationship, target_type, target_title]``."""

    hash = models.BinaryField(unique=True)
    edges = models.JSONField(default=list)
    size = models.IntegerField()


class Catalog(models.Model):
    """One version of one node's catalog, and when it was current."""

    node = models.ForeignKey(Node, models.CASCADE, related_name="catalogs")
    # PuppetDB's catalog ``hash``: sha1 hex of the catalog content without volatile metadata.
    hash = models.TextField()
    catalog_uuid = models.TextField(null=True, blank=True)
    transaction_uuid = models.TextField(null=True, blank=True)
    code_id = models.TextField(null=True, blank=True)
    job_id = models.TextField(null=True, blank=True)
    version = models.TextField(help_text="Puppet's config_version.")
    environment = models.ForeignKey(Environment, models.PROTECT, related_name="+")
    producer = models.ForeignKey(Producer, models.PROTECT, null=True, blank=True, related_name="+")
    producer_timestamp = models.DateTimeField(help_text="Of the newest command that confirmed this version.")
    first_producer_timestamp = models.DateTimeField(help_text="Of the command that first stored this version.")
    received = models.DateTimeField(help_text="When the newest confirming command was stored.")
    compiles = models.IntegerField(default=1, help_text="How many commands confirmed this version.")
    resource_set = models.ForeignKey(ResourceSet, models.PROTECT, related_name="catalogs")
    # Denormalised from the resource set (so counting a fleet's resources reads only catalogs):
    # set by a database trigger whenever resource_set_id is written, whoever writes the row.
    resource_count = models.IntegerField(default=0, editable=False, help_text="The resource set's size.")
    edge_set = models.ForeignKey(EdgeSet, models.PROTECT, null=True, blank=True, related_name="catalogs")
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["node", "-valid_from"], name="catalog_node_history_idx"),
            models.Index(fields=["resource_set", "valid_from"], name="catalog_set_idx"),
            models.Index(fields=["catalog_uuid"], name="catalog_uuid_idx"),
            models.Index(fields=["code_id"], name="catalog_code_id_idx"),
            models.Index(fields=["transaction_uuid"], name="catalog_txn_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["node"], condition=Q(valid_to__isnull=True), name="catalog_one_current_per_node"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.node_id}@{self.valid_from:%Y-%m-%dT%H:%M:%S}"


# --- web UI aggregates (issue 6) -------------------------------------------------------------
class FactDistribution(models.Model):
    """The distribution of one fact's values over the active fleet (a precomputed aggregate for the
    facts page: counting values reads every factset, which no page view may do). Computed by the
    task ``stagehand.ui.fact_distribution`` when the page finds it missing or stale."""

    path_key = models.TextField(unique=True, help_text="JSON array of the path segments, as FactPath.path_key.")
    requested = models.DateTimeField(help_text="When a page last asked for a fresh computation.")
    computed = models.DateTimeField(null=True, blank=True)
    nodes = models.IntegerField(default=0, help_text="Active nodes that have the fact.")
    distinct = models.IntegerField(default=0, help_text="Distinct values.")
    values = models.JSONField(default=list, help_text="[[value, count], …] most frequent first (capped).")
    seconds = models.FloatField(null=True, blank=True, help_text="How long the computation took.")


# --- ingest (issue 3) ------------------------------------------------------------------------
class CatalogInputs(models.Model):
    """The latest ``replace catalog inputs`` command of a node (PuppetDB keeps only the latest):
    the inputs (``[type, name]`` pairs, e.g. ``["hiera", "ntp::servers"]``) used when compiling
    the catalog ``catalog_uuid``. Written by the ingest pipeline."""

    # No database FK (like the report tables): node purges that delete with raw SQL are not blocked.
    node = models.OneToOneField(
        Node, models.CASCADE, primary_key=True, related_name="catalog_inputs", db_constraint=False
    )
    catalog_uuid = models.TextField(null=True, blank=True)
    producer_timestamp = models.DateTimeField()
    received = models.DateTimeField()
    inputs = models.JSONField(default=list)

    class Meta:
        indexes = [GinIndex(fields=["inputs"], name="cataloginputs_inputs_gin", opclasses=["jsonb_path_ops"])]
