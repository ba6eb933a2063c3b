"""Serializers of the native REST API."""

from __future__ import annotations

from rest_framework import serializers

from inventory.models import Catalog, Environment, FactPath, Factset, Node, Resource
from reports.models import Report, ResourceEvent


def _name(obj, attr):
    value = getattr(obj, attr, None)
    return value.name if value is not None else None


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["id", "name"]


class NodeSerializer(serializers.ModelSerializer):
    catalog_environment = serializers.SerializerMethodField()
    facts_environment = serializers.SerializerMethodField()
    report_environment = serializers.SerializerMethodField()
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = Node
        fields = [
            "id",
            "certname",
            "active",
            "deactivated",
            "expired",
            "facts_timestamp",
            "catalog_timestamp",
            "report_timestamp",
            "catalog_environment",
            "facts_environment",
            "report_environment",
            "latest_report_status",
            "latest_report_noop",
            "latest_report_noop_pending",
            "latest_report_corrective_change",
            "latest_report_hash",
            "latest_report_code_id",
            "latest_catalog_code_id",
            "cached_catalog_status",
        ]

    def get_catalog_environment(self, obj) -> str | None:
        return _name(obj, "catalog_environment")

    def get_facts_environment(self, obj) -> str | None:
        return _name(obj, "facts_environment")

    def get_report_environment(self, obj) -> str | None:
        return _name(obj, "report_environment")


class FactsetSerializer(serializers.ModelSerializer):
    certname = serializers.CharField(source="node.certname")
    environment = serializers.SerializerMethodField()
    facts = serializers.SerializerMethodField()

    class Meta:
        model = Factset
        fields = ["certname", "environment", "timestamp", "producer_timestamp", "hash", "facts"]

    def get_environment(self, obj) -> str | None:
        return _name(obj, "environment")

    def get_facts(self, obj) -> dict:
        facts = obj.facts
        names = self.context.get("fact_names")
        if names:
            return {n: facts[n] for n in names if n in facts}
        return facts


class FactPathSerializer(serializers.ModelSerializer):
    class Meta:
        model = FactPath
        fields = ["id", "path", "name", "depth", "value_type", "last_seen"]


class CatalogSerializer(serializers.ModelSerializer):
    certname = serializers.CharField(source="node.certname")
    environment = serializers.SerializerMethodField()
    producer = serializers.SerializerMethodField()
    current = serializers.SerializerMethodField()
    resource_count = serializers.IntegerField(source="resource_set.size")

    class Meta:
        model = Catalog
        fields = [
            "id",
            "certname",
            "hash",
            "catalog_uuid",
            "transaction_uuid",
            "code_id",
            "job_id",
            "version",
            "environment",
            "producer",
            "producer_timestamp",
            "first_producer_timestamp",
            "compiles",
            "valid_from",
            "valid_to",
            "current",
            "resource_count",
        ]

    def get_environment(self, obj) -> str | None:
        return _name(obj, "environment")

    def get_producer(self, obj) -> str | None:
        return _name(obj, "producer")

    def get_current(self, obj) -> bool:
        return obj.valid_to is None


class ResourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Resource
        fields = ["id", "type", "title", "exported", "file", "line", "tags", "parameters", "resource_hash"]


class ReportSerializer(serializers.ModelSerializer):
    environment = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id",
            "hash",
            "certname",
            "environment",
            "status",
            "noop",
            "noop_pending",
            "corrective_change",
            "cached_catalog_status",
            "type",
            "transaction_uuid",
            "catalog_uuid",
            "code_id",
            "job_id",
            "configuration_version",
            "puppet_version",
            "report_format",
            "start_time",
            "end_time",
            "producer_timestamp",
            "receive_time",
            "resources_total",
            "resources_changed",
            "resources_failed",
            "resources_skipped",
            "events_success",
            "events_failure",
            "run_duration",
        ]

    def get_environment(self, obj) -> str | None:
        return self.context.get("environments", {}).get(obj.environment_id)


class ReportDetailSerializer(ReportSerializer):
    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "metrics", "logs"]


class EventSerializer(serializers.ModelSerializer):
    report = serializers.IntegerField(source="report_id")

    class Meta:
        model = ResourceEvent
        fields = [
            "id",
            "report",
            "report_timestamp",
            "certname",
            "status",
            "timestamp",
            "resource_type",
            "resource_title",
            "property",
            "name",
            "old_value",
            "new_value",
            "message",
            "file",
            "line",
            "containment_path",
            "containing_class",
            "corrective_change",
        ]


class WhereAppliedCatalogSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    catalog_uuid = serializers.CharField(allow_null=True)
    code_id = serializers.CharField(allow_null=True)
    transaction_uuid = serializers.CharField(allow_null=True)
    hash = serializers.CharField()
    version = serializers.CharField()
    environment = serializers.CharField()
    producer_timestamp = serializers.DateTimeField()
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField(allow_null=True)


class WhereAppliedReportSerializer(serializers.Serializer):
    hash = serializers.CharField()
    status = serializers.CharField()
    producer_timestamp = serializers.DateTimeField()
    noop = serializers.BooleanField(allow_null=True)


class WhereAppliedSerializer(serializers.Serializer):
    certname = serializers.CharField()
    active = serializers.BooleanField()
    catalog = WhereAppliedCatalogSerializer()
    report = WhereAppliedReportSerializer(allow_null=True)
