"""Thin API views: run waits, the event stream and history, webhooks, code rollout.

Permissions: waits, events and rollout are reads (a token with the ``read`` scope, or any
logged-in user). Webhooks — their URLs and secrets, and the power to make Stagehand POST
anywhere — are managed only with an ``admin`` token or by a staff user (reads included).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.models import ApiToken
from inventory.models import Environment
from reports.orchestration import notify, rollout, runs, stream, webhooks
from reports.orchestration.filters import EVENT_STATUSES, EventFilter
from reports.orchestration.models import EventKind, Webhook, WebhookDelivery
from reports.orchestration.selection import SelectionError, parse_query, query_queryset


def _bad(exc: SelectionError) -> Response:
    return Response({"error": exc.message, "field": exc.field}, status=status.HTTP_400_BAD_REQUEST)


class IsHookAdmin(BasePermission):
    """An ``admin``-scoped token, or a staff user's session."""

    def has_permission(self, request, view):
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None:
            return token.allows("admin")
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


# --- run completion ------------------------------------------------------------------------


class RunWaitView(APIView):
    """``POST`` a selection and condition and wait (up to ``timeout`` seconds, capped at
    RUNS_WAIT_MAX_TIMEOUT) until every selected node has run; ``GET`` the same with query
    parameters answers at once unless it gives a ``timeout``."""

    required_scope = "read"

    def get(self, request):
        return self._wait(request.query_params, default_timeout=0.0)

    def post(self, request):
        return self._wait(request.data, default_timeout=float(settings.RUNS_WAIT_MAX_TIMEOUT))

    def _wait(self, data, default_timeout: float):
        try:
            wait_request = runs.parse_request(data, default_timeout=default_timeout)
        except SelectionError as exc:
            return _bad(exc)
        held = degraded = False
        if wait_request.timeout > 0:
            held = notify.slots.try_acquire()
            if not held:  # every long-request slot is busy: answer now, ask to come back
                wait_request.timeout = 0.0
                degraded = True
        try:
            result = runs.wait(wait_request)
        except SelectionError as exc:
            return _bad(exc)
        finally:
            if held:
                notify.slots.release()
        response = Response(result)
        if degraded:
            result["degraded"] = "too many concurrent waits in this process; answered without waiting"
            response["Retry-After"] = "2"
        return response


class WaitClientView(APIView):
    """The ``stagehand-wait`` script itself (standard library only), for pipelines to fetch with
    the token they already use: ``curl -fsS -H "Authorization: Bearer $T" -o stagehand-wait
    $STAGEHAND_URL/api/v1/runs/client/stagehand-wait && chmod 755 stagehand-wait``."""

    required_scope = "read"

    def get(self, request):
        from pathlib import Path

        from django.http import FileResponse

        path = Path(__file__).resolve().parent / "client" / "stagehand-wait"
        response = FileResponse(path.open("rb"), content_type="text/x-python")
        response["Content-Disposition"] = 'attachment; filename="stagehand-wait"'
        return response


# --- events --------------------------------------------------------------------------------


class EventStreamRenderer(BaseRenderer):
    media_type = "text/event-stream"
    format = "sse"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return stream.sse(None, "error", data) if data is not None else b""


class _ClosingStream:
    """The streaming body; its ``close`` (called by Django when the response is done, even if it
    was never iterated) frees the long-request slot exactly once."""

    def __init__(self, generator, release):
        self._generator = generator
        self._release = release

    def __iter__(self):
        return self._generator

    def close(self):
        try:
            self._generator.close()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


def _parse_event_id(value, name) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SelectionError(name, f"must be an event id (an integer), got {value!r}") from None
    if number < 0:
        raise SelectionError(name, "must not be negative")
    return number


class EventStreamView(APIView):
    """Server-Sent Events. Filters: ``kind``, ``environment``, ``status``, ``certname`` (each
    repeatable or comma separated) and ``query`` (PQL/AST node query). Starts after the
    ``Last-Event-ID`` header (or ``last_event_id`` parameter; ``0`` replays the kept history),
    else with new events only. Ends after ``max_seconds`` (at most EVENTS_STREAM_MAX_SECONDS)."""

    required_scope = "read"
    renderer_classes = [JSONRenderer, EventStreamRenderer]  # errors as JSON unless only SSE is accepted

    def get(self, request):
        params = request.query_params
        try:
            flt = EventFilter.parse(params)
            raw = request.headers.get("Last-Event-ID") or params.get("last_event_id")
            resume = raw not in (None, "")
            after = _parse_event_id(raw, "Last-Event-ID") if resume else stream.latest_id()
            max_seconds = float(settings.EVENTS_STREAM_MAX_SECONDS)
            if params.get("max_seconds"):
                try:
                    max_seconds = min(max_seconds, max(0.0, float(params["max_seconds"])))
                except ValueError:
                    raise SelectionError("max_seconds", "must be a number of seconds") from None
        except SelectionError as exc:
            return _bad(exc)
        finally:
            notify.release_connection()
        if not notify.slots.try_acquire():
            body = _ClosingStream(iter([b"retry: 5000\n\n"]), None)
        else:
            generator = stream.stream(
                after,
                flt,
                max_seconds=max_seconds,
                heartbeat=settings.EVENTS_STREAM_HEARTBEAT_SECONDS,
                poll=settings.HOOKS_POLL_SECONDS,
                safety_poll=settings.HOOKS_SAFETY_POLL_SECONDS,
                min_interval=settings.HOOKS_MIN_INTERVAL_SECONDS,
                check_gap=resume and after > 0,  # 0: "everything kept", no gap to report
            )
            body = _ClosingStream(generator, notify.slots.release)
        response = StreamingHttpResponse(body, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


class EventListView(APIView):
    """The kept event history as JSON pages: ``after`` (an event id), ``limit`` (≤ 1000) and the
    stream's filters. ``last_event_id`` in the answer is where the next page starts."""

    required_scope = "read"

    def get(self, request):
        params = request.query_params
        try:
            flt = EventFilter.parse(params)
            after = _parse_event_id(params.get("after", "0"), "after")
            try:
                limit = max(1, min(1000, int(params.get("limit", "100"))))
            except ValueError:
                raise SelectionError("limit", "must be an integer") from None
            rows, position, more = stream.fetch(after, flt, limit)
        except SelectionError as exc:
            return _bad(exc)
        return Response({"events": [stream.event_json(r) for r in rows], "last_event_id": position, "more": more})


# --- webhooks ------------------------------------------------------------------------------


class WebhookSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(write_only=True, required=False, min_length=16)
    kinds = serializers.ListField(child=serializers.ChoiceField(EventKind.values), required=False)
    statuses = serializers.ListField(child=serializers.ChoiceField(EVENT_STATUSES), required=False)
    environments = serializers.ListField(child=serializers.CharField(), required=False)
    node_query = serializers.JSONField(required=False, allow_null=True)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "name",
            "url",
            "secret",
            "enabled",
            "kinds",
            "environments",
            "statuses",
            "node_query",
            "created",
            "updated",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "last_delivery_at",
            "last_success_at",
        ]
        read_only_fields = [
            "created",
            "updated",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "last_delivery_at",
            "last_success_at",
        ]

    def validate_url(self, value):
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValidationError("only http and https URLs can receive webhooks")
        return value

    def validate_node_query(self, value):
        if value in (None, ""):
            return None
        try:
            query = parse_query(value)
            query_queryset(query)
        except SelectionError as exc:
            raise ValidationError(exc.message) from None
        return query


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "uuid",
            "kind",
            "state",
            "attempts",
            "created",
            "next_attempt_at",
            "finished_at",
            "response_status",
            "response_ms",
            "error",
        ]


class DeliveryDetailSerializer(DeliverySerializer):
    attempt_log = serializers.SerializerMethodField()
    body = serializers.CharField()

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "body", "attempt_log"]

    def get_attempt_log(self, obj):
        return [
            {
                "number": a.number,
                "started": a.started,
                "response_status": a.response_status,
                "response_ms": a.response_ms,
                "succeeded": a.succeeded,
                "error": a.error,
            }
            for a in obj.attempt_log.all()
        ]


class WebhookViewSet(viewsets.ModelViewSet):
    """Webhook registrations. The secret is returned only by create and ``rotate-secret``."""

    queryset = Webhook.objects.all()
    serializer_class = WebhookSerializer
    permission_classes = [IsHookAdmin]
    filter_backends: list = []

    def perform_create(self, serializer):
        secret = serializer.validated_data.pop("secret", None) or webhooks.generate_secret()
        user = self.request.user if self.request.user.is_authenticated else None
        serializer.save(secret=secret, created_by=user)

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response.data["secret"] = Webhook.objects.get(pk=response.data["id"]).secret
        return response

    def perform_update(self, serializer):
        hook = serializer.instance
        was_enabled = hook.enabled
        enabled = serializer.validated_data.pop("enabled", was_enabled)
        secret = serializer.validated_data.pop("secret", None)
        hook = serializer.save(**({"secret": secret} if secret else {}))
        if enabled and not was_enabled:
            webhooks.enable(hook)
        elif was_enabled and not enabled:
            webhooks.disable(hook, f"disabled by {self.request.user.get_username() or 'an operator'}")

    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        hook = self.get_object()
        delivery = webhooks.ping(hook)
        if delivery is None:
            return Response({"error": "the webhook is disabled; enable it first"}, status=status.HTTP_409_CONFLICT)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        hook = self.get_object()
        hook.secret = webhooks.generate_secret()
        hook.save(update_fields=["secret", "updated"])
        return Response({"id": hook.pk, "secret": hook.secret})

    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        hook = self.get_object()
        qs = hook.deliveries.all()
        params = request.query_params
        if params.get("state"):
            qs = qs.filter(state=params["state"])
        try:
            limit = max(1, min(500, int(params.get("limit", "50"))))
            if params.get("before"):
                qs = qs.filter(pk__lt=int(params["before"]))
        except ValueError:
            return Response({"error": "limit and before must be integers"}, status=400)
        rows = list(qs.order_by("-id")[:limit])
        return Response(
            {
                "webhook": WebhookSerializer(hook).data,
                "deliveries": DeliverySerializer(rows, many=True).data,
                "next_before": rows[-1].pk if len(rows) == limit else None,
            }
        )


class DeliveryDetailView(APIView):
    permission_classes = [IsHookAdmin]

    def get(self, request, pk, delivery):
        obj = get_object_or_404(WebhookDelivery.objects.filter(webhook_id=pk), uuid=delivery)
        return Response(DeliveryDetailSerializer(obj).data)


class RedeliverView(APIView):
    permission_classes = [IsHookAdmin]

    def post(self, request, pk, delivery):
        import orjson

        obj = get_object_or_404(WebhookDelivery.objects.filter(webhook_id=pk).select_related("webhook"), uuid=delivery)
        if not obj.body:
            return Response({"error": "this delivery has not been attempted yet"}, status=status.HTTP_409_CONFLICT)
        payload = orjson.loads(obj.body)["event"]
        created = webhooks.create_deliveries([obj.webhook], obj.event_id, obj.kind, payload)
        if not created:
            return Response({"error": "the webhook is disabled; enable it first"}, status=status.HTTP_409_CONFLICT)
        return Response(DeliverySerializer(created[0]).data, status=status.HTTP_202_ACCEPTED)


# --- rollout -------------------------------------------------------------------------------


class RolloutView(APIView):
    """Per environment and code_id: nodes on it now, since when, run statuses."""

    required_scope = "read"

    def get(self, request):
        name = request.query_params.get("environment")
        if name:
            if not Environment.objects.filter(name=name).exists():
                return Response({"error": f"unknown environment {name!r}", "field": "environment"}, status=404)
            return Response(rollout.rollout(name)[0])
        return Response({"environments": rollout.rollout()})
