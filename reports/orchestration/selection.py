"""Selecting nodes: certname lists, environments, node queries (PQL, AST or a UI condition,
through ``inventory.query.node_queryset``) and ENC classification groups (``enc.service.members``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db.models import Q

from inventory.models import Node


class SelectionError(ValueError):
    def __init__(self, field_name: str, message: str):
        self.field = field_name
        self.message = message
        super().__init__(f"{field_name}: {message}")


def parse_query(value):
    """A node query as given: a PQL string, or an AST (a JSON list, possibly as a string)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise SelectionError("query", f"not valid JSON: {exc}") from None
        return text
    if isinstance(value, list):
        return value
    raise SelectionError("query", "must be a PQL string or an AST list")


def query_queryset(query, *, active_only: bool = True):
    """Nodes matching a PQL/AST query (raises SelectionError naming the problem)."""
    from inventory.query import QueryError, node_queryset

    try:
        return node_queryset(query, active_only=active_only)
    except QueryError as exc:
        raise SelectionError("query", str(exc)) from None


def environment_q(name: str) -> Q:
    """A node is in the environment of its latest run (report), else of its catalog, else facts."""
    return (
        Q(report_environment__name=name)
        | Q(report_environment__isnull=True, catalog_environment__name=name)
        | Q(report_environment__isnull=True, catalog_environment__isnull=True, facts_environment__name=name)
    )


def group_queryset(group: str, limit: int):
    """Active nodes the ENC classifies into ``group`` (a group name or id) right now."""
    import uuid

    from enc import service
    from enc.models import NodeGroup

    found = NodeGroup.objects.filter(name=group).first()
    if found is None:
        try:
            found = NodeGroup.objects.filter(id=uuid.UUID(str(group))).first()
        except ValueError:
            found = None
    if found is None:
        raise SelectionError("group", f"no classification group named {group!r}")
    members = service.members(found.id, limit=limit + 1)
    if members["truncated"] or members["count"] > limit:
        raise SelectionError("nodes", f"the group has more than {limit} nodes (RUNS_WAIT_MAX_NODES)")
    return Node.objects.filter(certname__in=members["nodes"])


@dataclass
class Selection:
    certnames: list[str] = field(default_factory=list)
    query: object = None
    environment: str | None = None
    group: str | None = None

    def is_empty(self) -> bool:
        return not (self.certnames or self.query is not None or self.environment or self.group)

    def describe(self) -> dict:
        out: dict = {}
        if self.certnames:
            out["certnames"] = self.certnames
        if self.query is not None:
            out["query"] = self.query
        if self.environment:
            out["environment"] = self.environment
        if self.group:
            out["group"] = self.group
        return out

    def queryset(self, limit: int = 50000):
        """Active nodes matching every given criterion except the certname list."""
        qs = Node.objects.active()
        if self.environment:
            qs = qs.filter(environment_q(self.environment))
        if self.query is not None:
            qs = qs.filter(pk__in=query_queryset(self.query).values("pk"))
        if self.group:
            qs = qs.filter(pk__in=group_queryset(self.group, limit).values("pk"))
        return qs

    def resolve(self, limit: int) -> tuple[dict[str, int], list[str]]:
        """Returns ({certname: node id} of known selected nodes, [certnames not known yet]).

        A certname list selects those nodes (active or not: a new run reactivates a node) and
        lists the unknown ones, which a first report may still satisfy; other criteria narrow it.
        """
        if self.certnames:
            qs = Node.objects.extra(where=["inventory_node.certname = ANY(%s)"], params=[self.certnames])
            if self.environment or self.query is not None or self.group:
                narrowed = self.queryset(limit).extra(
                    where=["inventory_node.certname = ANY(%s)"], params=[self.certnames]
                )
                qs = narrowed
            known = dict(qs.values_list("certname", "id")[: limit + 1])
            unknown = []
            if not (self.environment or self.query is not None or self.group):
                unknown = sorted(set(self.certnames) - set(known))
        else:
            known = dict(self.queryset(limit).values_list("certname", "id")[: limit + 1])
            unknown = []
        if len(known) + len(unknown) > limit:
            raise SelectionError("nodes", f"the selection has more than {limit} nodes (RUNS_WAIT_MAX_NODES)")
        return known, unknown
