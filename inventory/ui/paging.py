"""Keyset ("seek") pagination for the UI lists, both ways: the page after (or before) a row is
found through the sort index, never with OFFSET, so page 1,000 costs what page 1 costs.

Going forward (``after=<cursor>``) walks the sort order from the cursor; going back
(``before=<cursor>``) walks the *reversed* order from the cursor, fetches one row more than a page
(to know whether there is anything further back) and flips the rows into display order. Every
order ends on a unique tie-break column, so rows with equal sort values are neither skipped nor
repeated. Cursors are opaque url-safe tokens holding one row's sort values; the query string keeps
every filter, so a page's link can be shared. :func:`page` does this for a queryset,
:func:`seek` for any fetch function (``inventory.where_applied``), and :func:`links` builds the
first/previous/next URLs the shared template ``inventory/pager.html`` renders."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError
from django.db.models import F, Q


class BadCursor(ValueError):
    pass


BAD_CURSOR = "the page cursor is not valid; start again from the first page"
WRONG_SORT = "the page cursor does not match the sort order; start again from the first page"


def encode(values: list) -> str:
    def conv(value):
        if isinstance(value, dt.datetime):
            return {"t": value.isoformat()}
        return value

    raw = json.dumps([conv(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> list:
    def conv(value):
        if isinstance(value, dict) and "t" in value:
            parsed = dt.datetime.fromisoformat(value["t"])
            if parsed.tzinfo is None:
                raise ValueError("a cursor's times carry their UTC offset")
            return parsed
        return value

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list):
            raise ValueError
        return [conv(v) for v in values]
    except (ValueError, TypeError) as exc:
        raise BadCursor(BAD_CURSOR) from exc


@dataclass(frozen=True)
class Sort:
    """Order by ``field`` then the unique ``tiebreak``, both ``descending`` or not.

    The ORDER BY must match an index exactly (including where NULLs go), or PostgreSQL sorts every
    matching row before the LIMIT. ``nullable=False`` orders a NOT NULL column plainly (any btree
    index serves both directions); for a nullable one, NULLs sort as the largest value (PostgreSQL's
    default, last ascending) or, with ``nulls_small``, as the smallest (first ascending, last
    descending: "newest first, never-reported last")."""

    field: str
    tiebreak: str
    descending: bool = False
    nullable: bool = True
    nulls_small: bool = False

    @property
    def _nulls_last(self) -> bool:
        return self.descending == self.nulls_small

    def order_by(self):
        tie = F(self.tiebreak).desc() if self.descending else F(self.tiebreak).asc()
        if self.field == self.tiebreak:
            return [tie]
        if not self.nullable:
            expr = F(self.field).desc() if self.descending else F(self.field).asc()
        elif self._nulls_last:
            expr = F(self.field).desc(nulls_last=True) if self.descending else F(self.field).asc(nulls_last=True)
        else:
            expr = F(self.field).desc(nulls_first=True) if self.descending else F(self.field).asc(nulls_first=True)
        return [expr, tie]

    def after(self, values: list) -> Q:
        op = "lt" if self.descending else "gt"
        if self.field == self.tiebreak:
            (value,) = values
            return Q(**{f"{self.tiebreak}__{op}": value})
        value, tie = values
        same = Q(**{self.field: value, f"{self.tiebreak}__{op}": tie})
        if not self.nullable:
            return Q(**{f"{self.field}__{op}": value}) | same
        if self._nulls_last:
            if value is None:
                return Q(**{f"{self.field}__isnull": True, f"{self.tiebreak}__{op}": tie})
            return Q(**{f"{self.field}__{op}": value}) | same | Q(**{f"{self.field}__isnull": True})
        if value is None:
            return Q(**{f"{self.field}__isnull": True, f"{self.tiebreak}__{op}": tie}) | Q(
                **{f"{self.field}__isnull": False}
            )
        return Q(**{f"{self.field}__{op}": value}) | same

    def reversed(self) -> Sort:
        """The exact reverse order (NULLs keep their place as smallest or largest value), so a
        backwards walk is the same index scanned the other way."""
        return replace(self, descending=not self.descending)

    def cursor_for(self, row) -> str:
        if self.field == self.tiebreak:
            return encode([_attr(row, self.tiebreak)])
        return encode([_attr(row, self.field), _attr(row, self.tiebreak)])


def _attr(row, name: str):
    value = row
    for part in name.split("__"):
        if value is None:
            return None
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


@dataclass(frozen=True)
class Page:
    """One page of rows in display order, and where the pager may go from it."""

    rows: list
    next_cursor: str | None  # rows follow: ``after=`` this cursor
    prev_cursor: str | None  # rows precede: ``before=`` this cursor
    first: bool  # this is the first page (no cursor given, or there was nothing before it)


def seek(
    fetch: Callable[[list | None, bool, int], list],
    cursor_for: Callable[[object], str],
    size: int,
    *,
    after: list | None = None,
    before: list | None = None,
) -> Page:
    """Keyset paging over any source. ``fetch(values, backwards, limit)`` returns at most
    ``limit`` rows *in walk order*: the rows after ``values`` in the sort order (all from the start
    when ``values`` is None), or, when ``backwards``, the rows before ``values`` in the reversed
    order (nearest first). ``after`` and ``before`` are decoded cursor values (``before`` wins)."""
    if before is not None:
        rows = list(fetch(before, True, size + 1))
        if len(rows) < size:
            # Fewer than a page lies before the cursor (rows were added or removed meanwhile, or
            # the cursor was made up): that is the beginning, so show the whole first page.
            return seek(fetch, cursor_for, size)
        more_before = len(rows) > size
        rows = rows[:size]
        rows.reverse()
        return Page(
            rows=rows,
            next_cursor=cursor_for(rows[-1]),  # the row the cursor was made from follows
            prev_cursor=cursor_for(rows[0]) if more_before else None,
            first=not more_before,
        )
    rows = list(fetch(after, False, size + 1))
    more_after = len(rows) > size
    rows = rows[:size]
    return Page(
        rows=rows,
        next_cursor=cursor_for(rows[-1]) if more_after else None,
        # Past a cursor, the row it was made from precedes; an empty page past the end has no
        # row to go back from (the first-page link remains).
        prev_cursor=cursor_for(rows[0]) if after is not None and rows else None,
        first=after is None,
    )


def _values(token: str | None, sort: Sort) -> list | None:
    if not token:
        return None
    values = decode(token)
    expected = 1 if sort.field == sort.tiebreak else 2
    if len(values) != expected:
        raise BadCursor(WRONG_SORT)
    if not all(v is None or isinstance(v, str | int | float | dt.datetime) for v in values) or values[-1] is None:
        raise BadCursor(BAD_CURSOR)
    return values


def page(queryset, sort: Sort, size: int, *, after: str | None = None, before: str | None = None) -> Page:
    """The page of ``queryset`` in ``sort`` order after the ``after`` cursor or before the
    ``before`` cursor (the first page without either). Raises :class:`BadCursor`."""
    after_values, before_values = _values(after, sort), _values(before, sort)

    def fetch(values, backwards: bool, limit: int) -> list:
        order = sort.reversed() if backwards else sort
        qs = queryset
        if values is not None:
            try:
                qs = qs.filter(order.after(values))
            except (ValidationError, ValueError, TypeError) as exc:
                raise BadCursor(WRONG_SORT) from exc
        return list(qs.order_by(*order.order_by())[:limit])

    return seek(fetch, sort.cursor_for, size, after=after_values, before=before_values)


def request_page(request, queryset, sort: Sort, size: int) -> Page:
    """:func:`page` with the cursors of the query string (``after``, ``before``)."""
    return page(queryset, sort, size, after=request.GET.get("after"), before=request.GET.get("before"))


def paged(request, queryset, sort: Sort, size: int, errors: list) -> tuple[list, Links]:
    """The rows of the page the request's cursors ask for and the pager's links. A bad cursor is
    appended to ``errors`` (the view answers 400) and gives no rows, only the first-page link."""
    try:
        result = request_page(request, queryset, sort, size)
    except BadCursor as exc:
        errors.append(str(exc))
        return [], links(request.GET, None)
    return result.rows, links(request.GET, result)


@dataclass(frozen=True)
class Links:
    """What ``inventory/pager.html`` renders: URLs (None where that way is closed)."""

    first_url: str | None
    prev_url: str | None
    next_url: str | None


CURSOR_PARAMS = ("after", "before")


def links(params, result: Page | None) -> Links:
    """First/previous/next URLs for ``result``, keeping every other parameter of ``params`` (the
    request's QueryDict: filters and sort stay in the shared link)."""
    base = params.copy()
    for key in CURSOR_PARAMS:
        base.pop(key, None)

    def url(**cursor) -> str:
        query = base.copy()
        for key, value in cursor.items():
            query[key] = value
        return "?" + query.urlencode()

    if result is None:  # the list could not be read (bad filter or cursor): only "first"
        return Links(
            first_url=url() if any(params.get(k) for k in CURSOR_PARAMS) else None, prev_url=None, next_url=None
        )
    return Links(
        first_url=None if result.first else url(),
        prev_url=url(before=result.prev_cursor) if result.prev_cursor else None,
        next_url=url(after=result.next_cursor) if result.next_cursor else None,
    )
