"""Keyset ("seek") pagination for the UI lists: the page after a row is found through the sort
index, never with OFFSET, so page 1,000 costs what page 1 costs. Cursors are opaque url-safe tokens
holding the last row's sort values."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import F, Q


class BadCursor(ValueError):
    pass


def encode(values: list) -> str:
    def conv(value):
        if isinstance(value, dt.datetime):
            return {"t": value.isoformat()}
        return value

    raw = json.dumps([conv(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> list:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list):
            raise ValueError
    except (ValueError, TypeError) as exc:
        raise BadCursor("the page cursor is not valid; start again from the first page") from exc

    def conv(value):
        if isinstance(value, dict) and "t" in value:
            return dt.datetime.fromisoformat(value["t"])
        return value

    return [conv(v) for v in values]


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


def page(queryset, sort: Sort, after: str | None, size: int):
    """Return (rows, next_cursor) for the page after the ``after`` cursor."""
    if after:
        values = decode(after)
        expected = 1 if sort.field == sort.tiebreak else 2
        if len(values) != expected:
            raise BadCursor("the page cursor does not match the sort order; start again from the first page")
        if not all(v is None or isinstance(v, str | int | float | dt.datetime) for v in values) or values[-1] is None:
            raise BadCursor("the page cursor is not valid; start again from the first page")
        try:
            queryset = queryset.filter(sort.after(values))
        except (ValidationError, ValueError, TypeError) as exc:
            raise BadCursor("the page cursor does not match the sort order; start again from the first page") from exc
    rows = list(queryset.order_by(*sort.order_by())[: size + 1])
    next_cursor = sort.cursor_for(rows[size - 1]) if len(rows) > size else None
    return rows[:size], next_cursor
