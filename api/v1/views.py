"""Native REST API viewsets (thin: filtering in ``filters.py``, logic in ``inventory``)."""

from __future__ import annotations

import base64

import orjson
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.v1 import filters, serializers
from api.v1.pagination import keyset
from api.v1.renderers import CSVRenderer, FastJSONRenderer
from inventory import catalog_diff
from inventory.models import Catalog, Environment, FactPath, Factset, Node, Resource
from inventory.query import QueryError
from inventory.ui.paging import seek
from inventory.where_applied import walk
from reports.models import Report, ResourceEvent

RENDERERS = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]


class Base(viewsets.ReadOnlyModelViewSet):
    renderer_classes = RENDERERS
    required_scope = "read"


class EnvironmentViewSet(Base):
    queryset = Environment.objects.all()
    serializer_class = serializers.EnvironmentSerializer
    pagination_class = keyset("name")
    lookup_field = "name"
    lookup_value_regex = "[^/]+"


class NodeViewSet(Base):
    queryset = Node.objects.select_related("catalog_environment", "facts_environment", "report_environment")
    serializer_class = serializers.NodeSerializer
    filterset_class = filters.NodeFilter
    pagination_class = keyset("certname")
    lookup_field = "certname"
    lookup_value_regex = "[^/]+"

    @extend_schema(responses=serializers.FactsetSerializer)
    @action(detail=True)
    def facts(self, request, certname=None):
        factset = get_object_or_404(Factset.objects.select_related("node", "environment"), node__certname=certname)
        return Response(serializers.FactsetSerializer(factset, context=self.get_serializer_context()).data)

    @extend_schema(responses=serializers.CatalogSerializer(many=True))
    @action(detail=True, pagination_class=keyset("-valid_from"))
    def catalogs(self, request, certname=None):
        node = get_object_or_404(Node, certname=certname)
        qs = Catalog.objects.filter(node=node).select_related("node", "environment", "producer", "resource_set")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(serializers.CatalogSerializer(page, many=True).data)


class FactsetViewSet(Base):
    queryset = Factset.objects.select_related("node", "environment")
    serializer_class = serializers.FactsetSerializer
    filterset_class = filters.FactsetFilter
    pagination_class = keyset("node_id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        names = self.request.query_params.get("names") if self.request else None
        if names:
            context["fact_names"] = [n.strip() for n in names.split(",") if n.strip()]
        return context

    @extend_schema(parameters=[OpenApiParameter("names", str, description="Comma-separated fact names to return")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class FactPathViewSet(Base):
    queryset = FactPath.objects.all()
    serializer_class = serializers.FactPathSerializer
    filterset_class = filters.FactPathFilter
    pagination_class = keyset("path_key")


class CatalogViewSet(Base):
    queryset = Catalog.objects.select_related("node", "environment", "producer", "resource_set")
    serializer_class = serializers.CatalogSerializer
    filterset_class = filters.CatalogFilter
    pagination_class = keyset("-valid_from")

    @extend_schema(responses=serializers.ResourceSerializer(many=True))
    @action(detail=True)
    def resources(self, request, pk=None):
        catalog = self.get_object()
        qs = Resource.objects.filter(id__in=catalog.resource_set.resource_ids).order_by("type", "title")
        return Response(serializers.ResourceSerializer(qs, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("against", int, description="The other catalog id (default: previous version)")],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True)
    def diff(self, request, pk=None):
        catalog = self.get_object()
        against = request.query_params.get("against")
        if against:
            if not against.isdigit():
                raise ValidationError({"against": ["must be a catalog id"]})
            other = get_object_or_404(Catalog, pk=int(against))
            old, new = other, catalog
        else:
            old = (
                Catalog.objects.filter(node_id=catalog.node_id, valid_from__lt=catalog.valid_from)
                .order_by("-valid_from")
                .first()
            )
            if old is None:
                raise ValidationError({"against": ["this is the node's first catalog; give ?against=<id>"]})
            new = catalog
        return Response(diff_json(catalog_diff.diff(old, new)))


EDGE_KEYS = ("source_type", "source_title", "relationship", "target_type", "target_title")


def _resource_json(resource) -> dict:
    return serializers.ResourceSerializer(resource).data


def diff_json(result: catalog_diff.CatalogDiff) -> dict:
    """The UI's catalog diff (``inventory.catalog_diff``) as JSON."""
    return {
        "old": result.old.id,
        "new": result.new.id,
        "unchanged": result.unchanged,
        "added": [_resource_json(c.new) for c in result.changes if c.kind == "added"],
        "removed": [_resource_json(c.old) for c in result.changes if c.kind == "removed"],
        "changed": [
            {
                "type": c.type,
                "title": c.title,
                "changes": [{"name": p.name, "kind": p.kind, "old": p.old, "new": p.new} for p in c.params],
            }
            for c in result.changes
            if c.kind == "changed"
        ],
        "edges_added": [dict(zip(EDGE_KEYS, e, strict=True)) for e in result.edges_added],
        "edges_removed": [dict(zip(EDGE_KEYS, e, strict=True)) for e in result.edges_removed],
    }


class ResourceViewSet(Base):
    queryset = Resource.objects.all()
    serializer_class = serializers.ResourceSerializer
    filterset_class = filters.ResourceFilter
    pagination_class = keyset("id")


class ReportViewSet(Base):
    queryset = Report.objects.all()
    serializer_class = serializers.ReportSerializer
    filterset_class = filters.ReportFilter
    pagination_class = keyset("-producer_timestamp")

    def get_serializer_class(self):
        return serializers.ReportDetailSerializer if self.action == "retrieve" else serializers.ReportSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["environments"] = dict(Environment.objects.values_list("id", "name"))
        return context

    @extend_schema(responses=serializers.EventSerializer(many=True))
    @action(detail=True)
    def events(self, request, pk=None):
        report = self.get_object()
        qs = ResourceEvent.objects.filter(report_id=report.id, report_timestamp=report.producer_timestamp)
        return Response(serializers.EventSerializer(qs.order_by("id"), many=True).data)


class EventViewSet(Base):
    queryset = ResourceEvent.objects.all()
    serializer_class = serializers.EventSerializer
    filterset_class = filters.EventFilter
    pagination_class = keyset("-report_timestamp")


WHERE_PARAMS = [
    OpenApiParameter("class", str, description="Class name, e.g. apache or Apache::Vhost"),
    OpenApiParameter("type", str, description="Resource type, e.g. Package"),
    OpenApiParameter("title", str, description="Resource title (with type)"),
    OpenApiParameter("parameter", str, description="Parameter name the resource must have (with type)"),
    OpenApiParameter("value", str, description="Parameter value (with parameter)"),
    OpenApiParameter("catalog_uuid", str),
    OpenApiParameter("code_id", str),
    OpenApiParameter("environment", str),
    OpenApiParameter("certname", str),
    OpenApiParameter("at", OpenApiTypes.DATETIME, description="Catalogs current at this moment"),
    OpenApiParameter("during", str, description="from,to: catalog versions current during this range"),
    OpenApiParameter("active", bool, description="Only active nodes (default: yes for now, no for history)"),
    OpenApiParameter("page_size", int),
    OpenApiParameter("cursor", str),
]


class WhereAppliedView(APIView):
    """Where was a class / resource / catalog / code version applied, now or at a past time."""

    # Up to 10,000 rows of plain dicts: written by orjson (DRF's encoder would dominate the latency).
    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    required_scope = "read"
    serializer_class = serializers.WhereAppliedSerializer

    @extend_schema(parameters=WHERE_PARAMS, responses=serializers.WhereAppliedSerializer(many=True))
    def get(self, request):
        q = request.query_params
        allowed = {p.name for p in WHERE_PARAMS} | {"format"}
        unknown = sorted(set(q) - allowed)
        if unknown:
            raise ValidationError({unknown[0]: ["unknown parameter"]})
        csv = request.accepted_renderer.format == "csv"
        page_size = q.get("page_size") or ("10000" if csv else "100")
        if not page_size.isdigit() or not 0 < int(page_size) <= 10_000:
            raise ValidationError({"page_size": ["must be an integer between 1 and 10000"]})
        after = before = None
        if q.get("cursor"):
            try:
                certname, catalog_id, *direction = orjson.loads(base64.urlsafe_b64decode(q["cursor"].encode()))
                if direction not in ([], ["before"]):
                    raise ValueError(direction)
                position = [str(certname), int(catalog_id)]
            except (ValueError, TypeError, orjson.JSONDecodeError):
                raise ValidationError({"cursor": ["invalid cursor"]}) from None
            if direction:
                before = position
            else:
                after = position
        during = q.get("during")
        if during is not None:
            during = [s.strip() for s in during.split(",")]
        active = q.get("active")
        if active is not None and active not in ("true", "false", "1", "0"):
            raise ValidationError({"active": ["must be true or false"]})
        fetch = walk(
            class_name=q.get("class"),
            resource_type=q.get("type"),
            title=q.get("title"),
            parameter=q.get("parameter"),
            value=q.get("value"),
            catalog_uuid=q.get("catalog_uuid"),
            code_id=q.get("code_id"),
            environment=q.get("environment"),
            certname=q.get("certname"),
            at=q.get("at"),
            during=during,
            active_only=None if active is None else active in ("true", "1"),
        )
        try:
            page = seek(
                fetch,
                lambda row: [row["certname"], row["catalog"]["id"]],
                int(page_size),
                after=after,
                before=before,
            )
        except QueryError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        # Rows are plain JSON-ready dicts (shape documented by WhereAppliedSerializer for the
        # schema); serialising 1,000 nested rows through DRF fields would dominate the latency.
        rows = page.rows
        next_url = page.next_cursor and self._page_url(request, page.next_cursor)
        if page.prev_cursor:
            previous_url = self._page_url(request, [*page.prev_cursor, "before"])
        else:  # past the end, or the first page: back to the first page unless this is it
            previous_url = None if page.first else self._page_url(request, None)
        return Response({"next": next_url, "previous": previous_url, "results": rows})

    @staticmethod
    def _page_url(request, position: list | None) -> str:
        params = request.query_params.copy()
        params.pop("cursor", None)
        if position is not None:
            params["cursor"] = base64.urlsafe_b64encode(orjson.dumps(position)).decode()
        return request.build_absolute_uri(request.path + ("?" + params.urlencode() if params else ""))
