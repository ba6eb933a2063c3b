"""The node search box: a bare word searches certnames; anything else is the query language
(``facts.os.family = "Debian" and status = failed``, or PQL / a JSON AST) compiled by
``inventory.query.node_queryset``."""

from __future__ import annotations

import re

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

PLAIN = re.compile(r"^[A-Za-z0-9_.:@-]+$")
# A query is evaluated once, into at most this many node ids; the page, the sort and the count
# then work on that id list (a query on facts can cost a scan of the factsets: never run it twice).
MATCH_CAP = 10_000


class SearchError(ValueError):
    """A message for the user (shown next to the search box)."""


def is_plain(q: str) -> bool:
    return bool(PLAIN.match(q))


def apply_search(qs: QuerySet, q: str, *, active_only: bool = True) -> tuple[QuerySet, bool]:
    """(the nodes of ``qs`` matching ``q``, whether the query matched more than ``MATCH_CAP``)."""
    q = q.strip()
    if not q:
        return qs, False
    if is_plain(q):
        return qs.filter(certname__icontains=q), False
    from inventory.query import QueryError, node_queryset

    try:
        ids = list(node_queryset(q, active_only=active_only).order_by().values_list("pk", flat=True)[: MATCH_CAP + 1])
    except QueryError as exc:
        raise SearchError(str(exc)) from exc
    capped = len(ids) > MATCH_CAP
    return qs.filter(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids[:MATCH_CAP]])), capped
