"""django-filter FilterSets of the native REST API (one per resource; ``query`` takes PQL)."""

from __future__ import annotations

import django_filters as df
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from inventory.models import Catalog, FactPath, Factset, Node, Resource
from inventory.query import QueryError, node_queryset
from reports.models import Report, ResourceEvent


def _node_query(queryset, field_path: str, value: str):
    try:
        nodes = node_queryset(value, active_only=False)
    except QueryError as exc:
        raise ValidationError({"query": [str(exc)]}) from None
    return queryset.filter(**{f"{field_path}__in": nodes.values("id")})


class NodeFilter(df.FilterSet):
    certname = df.CharFilter()
    search = df.CharFilter(field_name="certname", lookup_expr="icontains")
    status = df.CharFilter(field_name="latest_report_status")
    environment = df.CharFilter(field_name="report_environment__name")
    catalog_environment = df.CharFilter(field_name="catalog_environment__name")
    noop = df.BooleanFilter(field_name="latest_report_noop")
    noop_pending = df.BooleanFilter(field_name="latest_report_noop_pending")
    code_id = df.CharFilter(field_name="latest_catalog_code_id")
    active = df.BooleanFilter(method="filter_active")
    reported_before = df.IsoDateTimeFilter(field_name="report_timestamp", lookup_expr="lt")
    reported_after = df.IsoDateTimeFilter(field_name="report_timestamp", lookup_expr="gte")
    query = df.CharFilter(method="filter_query", help_text="PQL, AST or a condition, e.g. facts.os.family = Debian")

    class Meta:
        model = Node
        fields = ["certname"]

    def filter_active(self, queryset, name, value):
        return queryset.active() if value else queryset.inactive()

    def filter_query(self, queryset, name, value):
        return _node_query(queryset, "id", value)


class FactsetFilter(df.FilterSet):
    certname = df.CharFilter(field_name="node__certname")
    environment = df.CharFilter(field_name="environment__name")
    query = df.CharFilter(method="filter_query", help_text="A node query (PQL, AST or condition)")

    class Meta:
        model = Factset
        fields = ["certname"]

    def filter_query(self, queryset, name, value):
        return _node_query(queryset, "node_id", value)


class FactPathFilter(df.FilterSet):
    name = df.CharFilter()
    depth = df.NumberFilter()
    value_type = df.CharFilter()
    search = df.CharFilter(field_name="path_key", lookup_expr="icontains")

    class Meta:
        model = FactPath
        fields = ["name", "depth", "value_type"]


class CatalogFilter(df.FilterSet):
    certname = df.CharFilter(field_name="node__certname")
    environment = df.CharFilter(field_name="environment__name")
    code_id = df.CharFilter()
    catalog_uuid = df.CharFilter()
    transaction_uuid = df.CharFilter()
    current = df.BooleanFilter(field_name="valid_to", lookup_expr="isnull")
    at = df.IsoDateTimeFilter(method="filter_at", help_text="Catalogs current at this moment")
    query = df.CharFilter(method="filter_query", help_text="A node query (PQL, AST or condition)")

    class Meta:
        model = Catalog
        fields = ["code_id", "catalog_uuid"]

    def filter_at(self, queryset, name, value):
        return queryset.filter(Q(valid_from__lte=value) & (Q(valid_to__isnull=True) | Q(valid_to__gt=value)))

    def filter_query(self, queryset, name, value):
        return _node_query(queryset, "node_id", value)


class ResourceFilter(df.FilterSet):
    type = df.CharFilter()
    title = df.CharFilter()
    tag = df.CharFilter(method="filter_tag")
    exported = df.BooleanFilter()
    file = df.CharFilter()
    certname = df.CharFilter(method="filter_certname", help_text="Resources in this node's current catalog")

    class Meta:
        model = Resource
        fields = ["type", "title", "exported"]

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value.lower()])

    def filter_certname(self, queryset, name, value):
        catalog = Catalog.objects.filter(node__certname=value, valid_to__isnull=True).select_related("resource_set")
        ids = catalog[0].resource_set.resource_ids if catalog else []
        return queryset.filter(id__in=ids)


class ReportFilter(df.FilterSet):
    certname = df.CharFilter()
    hash = df.CharFilter()
    status = df.CharFilter()
    environment = df.CharFilter(method="filter_environment")
    noop = df.BooleanFilter()
    type = df.CharFilter()
    code_id = df.CharFilter()
    catalog_uuid = df.CharFilter()
    transaction_uuid = df.CharFilter()
    since = df.IsoDateTimeFilter(field_name="producer_timestamp", lookup_expr="gte")
    until = df.IsoDateTimeFilter(field_name="producer_timestamp", lookup_expr="lt")
    query = df.CharFilter(method="filter_query", help_text="A node query (PQL, AST or condition)")

    class Meta:
        model = Report
        fields = ["certname", "status"]

    def filter_environment(self, queryset, name, value):
        from inventory.models import Environment

        return queryset.filter(environment_id__in=Environment.objects.filter(name=value).values("id"))

    def filter_query(self, queryset, name, value):
        return _node_query(queryset, "node_id", value)


class EventFilter(df.FilterSet):
    certname = df.CharFilter()
    status = df.CharFilter()
    resource_type = df.CharFilter()
    resource_title = df.CharFilter()
    containing_class = df.CharFilter()
    report = df.NumberFilter(field_name="report_id")
    since = df.IsoDateTimeFilter(field_name="report_timestamp", lookup_expr="gte")
    until = df.IsoDateTimeFilter(field_name="report_timestamp", lookup_expr="lt")

    class Meta:
        model = ResourceEvent
        fields = ["certname", "status"]
