"""The node search box: a bare word searches certnames; anything else is the query language
(``facts.os.family = "Debian" and status = failed``, or PQL / a JSON AST) compiled by
``inventory.query.node_queryset``."""

from __future__ import annotations

import re

from django.db.models import QuerySet

PLAIN = re.compile(r"^[A-Za-z0-9_.:@-]+$")


class SearchError(ValueError):
    """A message for the user (shown next to the search box)."""


def is_plain(q: str) -> bool:
    return bool(PLAIN.match(q))


def apply_search(qs: QuerySet, q: str, *, active_only: bool = True) -> QuerySet:
    q = q.strip()
    if not q:
        return qs
    if is_plain(q):
        return qs.filter(certname__icontains=q)
    try:
        from inventory.query import QueryError, node_queryset
    except ImportError as exc:
        raise SearchError(
            "The query language is not installed yet: type part of a certname to search by name."
        ) from exc
    try:
        matched = node_queryset(q, active_only=active_only)
    except QueryError as exc:
        raise SearchError(str(exc)) from exc
    return qs.filter(pk__in=matched.values("pk"))
