"""Event filters shared by the event stream and webhooks: kinds, environments, statuses,
certnames and a node query (PQL/AST through ``inventory.query``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reports.orchestration.events import RUN_STATUSES
from reports.orchestration.models import EventKind
from reports.orchestration.selection import SelectionError, parse_query, query_queryset

# Statuses an event can carry: run statuses, and the reason of a node_deactivated event.
EVENT_STATUSES = (*RUN_STATUSES, "deactivated", "expired")


def _values(params, name) -> list[str]:
    if hasattr(params, "getlist"):
        raw = params.getlist(name)
    else:
        raw = params.get(name) or []
        if isinstance(raw, str):
            raw = [raw]
    out = []
    for value in raw:
        if not isinstance(value, str):
            raise SelectionError(name, "must be a string or a list of strings")
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


@dataclass
class EventFilter:
    kinds: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    certnames: list[str] = field(default_factory=list)
    query: object = None

    @classmethod
    def parse(cls, params) -> EventFilter:
        kinds = _values(params, "kind")
        bad = sorted(set(kinds) - set(EventKind.values))
        if bad:
            raise SelectionError("kind", f"unknown event kind {bad[0]!r}; known: {EventKind.values}")
        statuses = _values(params, "status")
        bad = sorted(set(statuses) - set(EVENT_STATUSES))
        if bad:
            raise SelectionError("status", f"unknown status {bad[0]!r}; known: {list(EVENT_STATUSES)}")
        flt = cls(
            kinds=kinds,
            environments=_values(params, "environment"),
            statuses=statuses,
            certnames=_values(params, "certname"),
            query=parse_query(params.get("query")),
        )
        if flt.query is not None:
            query_queryset(flt.query)  # validate now: a bad query is a 400, not a broken stream
        return flt

    def apply(self, queryset):
        """The column filters, in SQL."""
        if self.kinds:
            queryset = queryset.filter(kind__in=self.kinds)
        if self.environments:
            queryset = queryset.filter(environment__in=self.environments)
        if self.statuses:
            queryset = queryset.filter(status__in=self.statuses)
        if self.certnames:
            queryset = queryset.filter(certname__in=self.certnames)
        return queryset

    def matches_columns(self, event) -> bool:
        return (
            (not self.kinds or event.kind in self.kinds)
            and (not self.environments or event.environment in self.environments)
            and (not self.statuses or event.status in self.statuses)
            and (not self.certnames or event.certname in self.certnames)
        )

    def query_matches(self, certnames: set[str]) -> set[str]:
        """Which of ``certnames`` the node query selects (all of them when there is none)."""
        if self.query is None:
            return set(certnames)
        names = [c for c in certnames if c]
        if not names:
            return set()
        # Events also concern nodes that are (now) inactive, e.g. node_deactivated.
        return set(
            query_queryset(self.query, active_only=False).filter(certname__in=names).values_list("certname", flat=True)
        )

    def as_dict(self) -> dict:
        return {
            "kinds": self.kinds,
            "environments": self.environments,
            "statuses": self.statuses,
            "certnames": self.certnames,
            "query": self.query,
        }
