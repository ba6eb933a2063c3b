"""Run reports and their resource events.

Both tables are partitioned by day in PostgreSQL (created by raw SQL in the migrations, see
``reports/partitions.py``): ``reports_report`` on ``producer_timestamp`` and
``reports_resourceevent`` on ``report_timestamp`` (the owning report's ``producer_timestamp``), so
a report and its events always sit in the same day and report TTL is ``DROP TABLE`` of whole day
partitions. The database primary keys are ``(id, producer_timestamp)`` and
``(id, report_timestamp)``; Django sees ``id`` as the key, which is unique (one sequence).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from inventory.models import CachedCatalogStatus, Environment, Node, Producer, ReportStatus


class ReportType(models.TextChoices):
    AGENT = "agent"
    PLAN = "plan"


class ReportSource(models.TextChoices):
    PUPPETDB = "puppetdb", "PuppetDB command"
    HTTP = "http", "http report processor"
    IMPORT = "import", "PuppetDB archive import"


class Report(models.Model):
    id = models.BigAutoField(primary_key=True)
    # PuppetDB's report hash: sha1 hex over certname, puppet_version, report_format,
    # configuration_version, start_time, end_time, producer_timestamp and transaction_uuid.
    hash = models.TextField()
    node = models.ForeignKey(Node, models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    certname = models.TextField()
    environment = models.ForeignKey(Environment, models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    producer = models.ForeignKey(
        Producer, models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False, db_index=False
    )
    transaction_uuid = models.TextField(null=True, blank=True)
    catalog_uuid = models.TextField(null=True, blank=True)
    code_id = models.TextField(null=True, blank=True)
    job_id = models.TextField(null=True, blank=True)
    configuration_version = models.TextField(blank=True, default="")
    puppet_version = models.TextField(blank=True, default="")
    report_format = models.SmallIntegerField()
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    producer_timestamp = models.DateTimeField()
    receive_time = models.DateTimeField()
    status = models.TextField(choices=ReportStatus.choices)
    noop = models.BooleanField(default=False)
    noop_pending = models.BooleanField(null=True, blank=True)
    corrective_change = models.BooleanField(null=True, blank=True)
    cached_catalog_status = models.TextField(choices=CachedCatalogStatus.choices, null=True, blank=True)
    type = models.TextField(choices=ReportType.choices, default=ReportType.AGENT)
    source = models.TextField(choices=ReportSource.choices, default=ReportSource.PUPPETDB)
    # Summary columns (from metrics), so lists and dashboards never open the JSONB documents.
    resources_total = models.IntegerField(null=True, blank=True)
    resources_changed = models.IntegerField(null=True, blank=True)
    resources_failed = models.IntegerField(null=True, blank=True)
    resources_out_of_sync = models.IntegerField(null=True, blank=True)
    resources_skipped = models.IntegerField(null=True, blank=True)
    events_success = models.IntegerField(null=True, blank=True)
    events_failure = models.IntegerField(null=True, blank=True)
    events_noop = models.IntegerField(null=True, blank=True)
    run_duration = models.FloatField(null=True, blank=True, help_text="time.total, seconds")
    # PuppetDB shapes: metrics [{category,name,value}], logs [{file,line,level,message,source,tags,time}],
    # resources: the report's resources without their events (only when the sender included them).
    metrics = models.JSONField(default=list)
    logs = models.JSONField(default=list)
    resources = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["node", "-producer_timestamp"], name="report_node_ts_idx"),
            models.Index(fields=["-producer_timestamp"], name="report_ts_idx"),
            models.Index(fields=["hash"], name="report_hash_idx"),
            models.Index(fields=["node", "transaction_uuid"], name="report_node_txn_idx"),
            models.Index(fields=["status", "-producer_timestamp"], name="report_status_ts_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.certname} {self.producer_timestamp:%Y-%m-%dT%H:%M:%S} {self.status}"


class ResourceEvent(models.Model):
    class Status(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"
        NOOP = "noop"
        SKIPPED = "skipped"

    id = models.BigAutoField(primary_key=True)
    report = models.ForeignKey(Report, models.CASCADE, related_name="events", db_constraint=False, db_index=False)
    report_timestamp = models.DateTimeField(help_text="The report's producer_timestamp (partition key).")
    node = models.ForeignKey(Node, models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    certname = models.TextField()
    environment = models.ForeignKey(Environment, models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    status = models.TextField(choices=Status.choices)
    timestamp = models.DateTimeField()
    resource_type = models.TextField()
    resource_title = models.TextField()
    property = models.TextField(null=True, blank=True)
    name = models.TextField(null=True, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    message = models.TextField(null=True, blank=True)
    file = models.TextField(null=True, blank=True)
    line = models.IntegerField(null=True, blank=True)
    containment_path = ArrayField(models.TextField(), null=True, blank=True)
    containing_class = models.TextField(null=True, blank=True)
    corrective_change = models.BooleanField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["report"], name="event_report_idx"),
            models.Index(fields=["node", "-report_timestamp"], name="event_node_ts_idx"),
            models.Index(fields=["resource_type", "resource_title"], name="event_resource_idx"),
            models.Index(fields=["status", "-report_timestamp"], name="event_status_ts_idx"),
            models.Index(fields=["containing_class"], name="event_class_idx"),
        ]


# --- web UI rollups (issue 6) ----------------------------------------------------------------
class RunHour(models.Model):
    """Runs per hour, environment and status, for the dashboard charts (a precomputed aggregate,
    so no page view scans reports). Rebuilt from ``Report`` rows by ``reports.rollups``; the beat
    task ``stagehand.housekeeping.ui_rollup_runs`` refreshes the recent hours every minute."""

    hour = models.DateTimeField()
    environment = models.ForeignKey(Environment, models.DO_NOTHING, related_name="+", db_constraint=False)
    status = models.TextField(choices=ReportStatus.choices)
    runs = models.IntegerField()
    noop_runs = models.IntegerField()
    duration_sum = models.FloatField()
    duration_count = models.IntegerField()
    duration_max = models.FloatField(null=True, blank=True)
    refreshed = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "environment", "status"], name="runhour_unique"),
        ]
        indexes = [models.Index(fields=["hour"], name="runhour_hour_idx")]


from reports.orchestration.models import Event, Webhook, WebhookAttempt, WebhookDelivery  # noqa: E402,F401  (hooks)
