"""Management API for node groups on the web process (``/api/v1/groups/...``).

Scopes: reading (list, detail, rules, members, preview, validate, translate, audit) needs
``read``; changing groups (POST/PUT/PATCH/DELETE on groups) needs ``admin``. The ``classify``
scope is what Puppet servers hold for the ENC, so it deliberately cannot rewrite classification.
Session users: any logged-in user reads, staff users write (``api.authentication.HasScope``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from api.models import ApiToken
from enc import rules, service
from enc.models import AuditEntry, NodeGroup

# --- schema documentation (validation itself lives in enc.service) ---------------------------


class GroupSchema(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField()
    description = serializers.CharField(required=False)
    parent = serializers.UUIDField(help_text="Parent group id; the root is 00000000-0000-4000-8000-000000000000.")
    rule = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='PE classifier rule, e.g. ["and", ["=", ["fact", "os", "family"], "Debian"], ["~", "name", "^web"]]',
    )
    pinned = serializers.ListField(child=serializers.CharField(), required=False)
    classes = serializers.JSONField(required=False, help_text='{"class": {"parameter": value}}')
    variables = serializers.JSONField(required=False, help_text='{"name": value} (top-scope parameters)')
    environment = serializers.CharField(required=False, allow_blank=True)
    environment_trumps = serializers.BooleanField(required=False, help_text="An environment group.")
    serial = serializers.IntegerField(read_only=True)
    created = serializers.DateTimeField(read_only=True)
    last_edited = serializers.DateTimeField(read_only=True)


class GroupListSchema(serializers.Serializer):
    count = serializers.IntegerField()
    results = GroupSchema(many=True)


class RuleSchema(serializers.Serializer):
    rule = serializers.JSONField()
    parent = serializers.UUIDField(required=False, help_text="preview only: restrict to this group's members")
    pinned = serializers.ListField(child=serializers.CharField(), required=False, help_text="preview only")


def _actor(request) -> tuple[str, str]:
    user = getattr(request, "user", None)
    name = user.get_username() if user is not None and user.is_authenticated else "-"
    token = request.auth.name if isinstance(request.auth, ApiToken) else ""
    return name, token


def _invalid(exc: service.InvalidGroup) -> Response:
    return Response({"error": "invalid group", "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)


def _refused(exc: service.ChangeRefused) -> Response:
    body = {"error": exc.message}
    if exc.affected:
        body["kind"] = "classification-conflict"
        body["affected_nodes"] = exc.affected
    return Response(body, status=exc.status)


def _not_found(exc: Exception) -> Response:
    return Response({"error": str(exc)}, status=status.HTTP_404_NOT_FOUND)


def _body(request) -> dict:
    try:
        data = request.data
    except ParseError as exc:
        raise service.InvalidGroup({"non_field_errors": [f"malformed JSON: {exc.detail}"]}) from None
    if not isinstance(data, dict):
        raise service.InvalidGroup({"non_field_errors": ["expected a JSON object"]})
    return data


class _Scoped(APIView):
    write_scope = "admin"

    @property
    def required_scope(self):
        method = getattr(self.request, "method", "GET")
        return "read" if method in ("GET", "HEAD", "OPTIONS") else self.write_scope


class GroupList(_Scoped):
    @extend_schema(
        responses=GroupListSchema,
        parameters=[OpenApiParameter("q", str, description="text in the name or description")],
    )
    def get(self, request):
        groups = NodeGroup.objects.all()
        q = request.query_params.get("q")
        if q:
            groups = groups.filter(Q(name__icontains=q) | Q(description__icontains=q))
        data = [service.group_to_dict(g) for g in groups]
        return Response({"count": len(data), "results": data})

    @extend_schema(
        request=GroupSchema, responses={201: GroupSchema, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT}
    )
    def post(self, request):
        actor, token = _actor(request)
        try:
            group = service.create_group(_body(request), actor=actor, token=token)
        except service.InvalidGroup as exc:
            return _invalid(exc)
        except service.ChangeRefused as exc:
            return _refused(exc)
        return Response(service.group_to_dict(group), status=status.HTTP_201_CREATED)


@extend_schema(
    responses={200: GroupSchema, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT}
)
class GroupDetail(_Scoped):
    def get(self, request, pk):
        group = NodeGroup.objects.filter(id=pk).first()
        if group is None:
            return _not_found(service.NotFound(f"no group with id {pk}"))
        return Response(service.group_to_dict(group))

    def _update(self, request, pk, partial):
        actor, token = _actor(request)
        try:
            group = service.update_group(pk, _body(request), actor=actor, token=token, partial=partial)
        except service.NotFound as exc:
            return _not_found(exc)
        except service.InvalidGroup as exc:
            return _invalid(exc)
        except service.ChangeRefused as exc:
            return _refused(exc)
        return Response(service.group_to_dict(group))

    @extend_schema(request=GroupSchema)
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(request=GroupSchema)
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT})
    def delete(self, request, pk):
        actor, token = _actor(request)
        try:
            service.delete_group(pk, actor=actor, token=token)
        except service.NotFound as exc:
            return _not_found(exc)
        except service.ChangeRefused as exc:
            return _refused(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(responses=OpenApiTypes.OBJECT)
class GroupRules(_Scoped):
    """The group's rule, the rule AND-ed with its ancestors', and their PuppetDB translations."""

    def get(self, request, pk):
        group = NodeGroup.objects.filter(id=pk).first()
        if group is None:
            return _not_found(service.NotFound(f"no group with id {pk}"))
        inherited = service.rule_with_inherited(pk)
        body = {"rule": group.rule, "rule_with_inherited": inherited}
        for key, rule in (("translated", group.rule), ("translated_with_inherited", inherited)):
            if rule is None:
                body[key] = None
                continue
            try:
                body[key] = {"endpoint": "inventory", "query": rules.to_puppetdb(rule)}
            except (rules.UntranslatableRule, rules.RuleError) as exc:
                body[key] = {"error": str(exc)}
        return Response(body)


@extend_schema(
    responses=OpenApiTypes.OBJECT,
    parameters=[
        OpenApiParameter("limit", int, description="page size (1-10000, default 1000)"),
        OpenApiParameter("after", str, description="keyset cursor: the next_after of the previous page"),
    ],
)
class GroupMembers(_Scoped):
    """Known (active) nodes in the group now, in certname order: ``count`` (all of them),
    ``nodes`` (one page), ``next_after`` (pass as ``?after=`` for the next page; null on the
    last), ``version`` (the classification version the list is for)."""

    def get(self, request, pk):
        try:
            return Response(service.members(pk, limit=_limit(request), after=request.query_params.get("after")))
        except service.NotFound as exc:
            return _not_found(exc)


def _limit(request, default=1000, maximum=10000) -> int:
    try:
        return max(1, min(int(request.query_params.get("limit", default)), maximum))
    except ValueError:
        return default


def _rule_from(request):
    data = _body(request)
    if "rule" not in data:
        raise service.InvalidGroup({"rule": ["this field is required"]})
    return data, data["rule"]


@extend_schema(request=RuleSchema, responses=OpenApiTypes.OBJECT)
class ValidateRule(_Scoped):
    write_scope = "read"

    def post(self, request):
        try:
            _, rule = _rule_from(request)
        except service.InvalidGroup as exc:
            return _invalid(exc)
        errors = rules.validate(rule)
        if errors:
            return Response({"valid": False, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"valid": True, "errors": [], "fields": rules.fields(rule)})


@extend_schema(request=RuleSchema, responses=OpenApiTypes.OBJECT)
class TranslateRule(_Scoped):
    write_scope = "read"

    def post(self, request):
        try:
            _, rule = _rule_from(request)
        except service.InvalidGroup as exc:
            return _invalid(exc)
        try:
            query = rules.to_puppetdb(rule)
        except rules.RuleError as exc:
            return Response({"valid": False, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        except rules.UntranslatableRule as exc:
            return Response(
                {"kind": "untranslatable-rule", "error": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY
            )
        return Response({"endpoint": "inventory", "query": query})


@extend_schema(request=RuleSchema, responses=OpenApiTypes.OBJECT)
class PreviewRule(_Scoped):
    """Which known nodes a rule (inside an optional parent group, plus pinned nodes) matches now."""

    write_scope = "read"

    def post(self, request):
        try:
            data, rule = _rule_from(request)
        except service.InvalidGroup as exc:
            return _invalid(exc)
        if rule is not None:
            errors = rules.validate(rule)
            if errors:
                return Response({"valid": False, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        pinned = data.get("pinned") or []
        if not isinstance(pinned, list) or not all(isinstance(p, str) for p in pinned):
            return _invalid(service.InvalidGroup({"pinned": ["must be a list of certnames"]}))
        parent = data.get("parent")
        try:
            result = service.preview(rule, parent_id=parent, pinned=pinned, limit=_limit(request))
        except service.NotFound as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except ValueError:
            return _invalid(service.InvalidGroup({"parent": [f"must be a group id, got {parent!r}"]}))
        return Response(result)


def _audit_dict(entry: AuditEntry) -> dict:
    return {
        "id": entry.id,
        "version": entry.version,
        "at": entry.at.isoformat().replace("+00:00", "Z"),
        "actor": entry.actor,
        "token": entry.token,
        "action": entry.action,
        "group": {"id": str(entry.group_id), "name": entry.group_name},
        "changed_fields": entry.changed_fields,
        "before": entry.before,
        "after": entry.after,
    }


@extend_schema(responses=OpenApiTypes.OBJECT)
class AuditLog(_Scoped):
    """Newest first; keyset pagination with ``?before=<id>``; filter ``?group=<id>``."""

    def get(self, request, pk=None):
        entries = AuditEntry.objects.all()
        group = pk or request.query_params.get("group")
        try:
            if group:
                entries = entries.filter(group_id=group)
            before = request.query_params.get("before")
            if before:
                entries = entries.filter(id__lt=int(before))
        except (ValueError, DjangoValidationError) as exc:  # a bad uuid or id in the query string
            return Response({"error": f"bad filter: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
        limit = _limit(request, default=100, maximum=1000)
        page = list(entries.order_by("-id")[: limit + 1])
        results = [_audit_dict(e) for e in page[:limit]]
        body = {"results": results, "next_before": results[-1]["id"] if len(page) > limit else None}
        return Response(body)
