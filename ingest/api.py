"""Inbox API (``/api/v1/inbox/``): list and inspect commands, replay dead ones."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ingest import inbox
from ingest.models import Command, CommandState


class CommandSerializer(serializers.ModelSerializer):
    payload_bytes = serializers.SerializerMethodField()

    class Meta:
        model = Command
        fields = [
            "id",
            "uuid",
            "command",
            "version",
            "certname",
            "producer_timestamp",
            "received_at",
            "state",
            "attempts",
            "next_attempt_at",
            "last_error",
            "processed_at",
            "source",
            "payload_format",
            "payload_encoding",
            "payload_bytes",
        ]

    def get_payload_bytes(self, obj) -> int:
        return len(obj.payload or b"")


class CommandFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=CommandState.choices)
    command = django_filters.CharFilter()
    certname = django_filters.CharFilter()
    source = django_filters.CharFilter()

    class Meta:
        model = Command
        fields = ["state", "command", "certname", "source"]


class ReplaySerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    all_dead = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("ids") and not attrs.get("all_dead"):
            raise serializers.ValidationError("give 'ids' (a list of command ids) or 'all_dead': true")
        return attrs


class CommandViewSet(viewsets.ReadOnlyModelViewSet):
    """Commands in the inbox, newest first. ``POST replay/`` (scope ``admin``) re-queues dead ones."""

    serializer_class = CommandSerializer
    filterset_class = CommandFilter
    lookup_field = "uuid"

    def get_queryset(self):
        return Command.objects.defer("payload").order_by("-received_at", "-id")

    @property
    def required_scope(self):
        return "admin" if self.action in ("replay", "replay_one") else "read"

    @action(detail=False, methods=["post"], serializer_class=ReplaySerializer)
    def replay(self, request):
        serializer = ReplaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data.get("all_dead"):
            ids = list(Command.objects.filter(state=CommandState.DEAD).values_list("id", flat=True))
        else:
            ids = serializer.validated_data["ids"]
        return Response({"replayed": inbox.replay(ids)}, status=status.HTTP_200_OK)

    @action(detail=True, methods=["post"], url_path="replay", serializer_class=serializers.Serializer)
    def replay_one(self, request, uuid=None):
        command = self.get_object()
        if command.state != CommandState.DEAD:
            return Response({"error": f"command is {command.state}, only dead commands are replayed"}, status=409)
        return Response({"replayed": inbox.replay([command.id])})
