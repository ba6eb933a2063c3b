"""PuppetDB's ``distinct_resources`` for events, event-counts and aggregate-event-counts.

With ``distinct_resources=true`` and a window ``[distinct_start_time, distinct_end_time]``,
PuppetDB looks only at the latest event of each (node, resource type, resource title, property,
event name) among the events whose ``timestamp`` falls in the window (both ends included), and
then applies the query to those latest events. A query that is just ``latest_report? = <bool>``
also limits the events the latest one is chosen from (to the latest reports, or to the others).

``Window.parse`` checks the three parameters the way PuppetDB pairs them; ``events_entity``
returns the events entity whose source is the latest events of the window.
"""

# SQL text here is assembled only from static snippets; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from dateutil import parser as dateparser

from inventory.query import entities as E
from inventory.query.compiler import Params
from inventory.query.errors import QueryError

PARAMS = ("distinct_resources", "distinct_start_time", "distinct_end_time")


def _timestamp(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dateparser.isoparse(value.strip())
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def parse(cls, params: dict, flag: bool | None) -> Window | None:
        """The window asked for by ``params`` (the request's parameters), or None.

        ``flag`` is ``distinct_resources`` already read as a boolean (None when absent). As in
        PuppetDB, the three parameters go together: the two times without the flag, or the flag
        without both times, is an error; the times must be ISO 8601 timestamps; with
        ``distinct_resources=false`` the (valid) window is ignored.
        """
        present = {name for name in PARAMS if name in params}
        if not present:
            return None
        if present == {"distinct_start_time", "distinct_end_time"}:
            raise QueryError(
                "'distinct_resources' query parameter must accompany parameters "
                "'distinct_start_time' and 'distinct_end_time'"
            )
        if present != set(PARAMS):
            raise QueryError(
                "'distinct_resources' query parameter requires accompanying parameters "
                "'distinct_start_time' and 'distinct_end_time'"
            )
        raw_start, raw_end = params["distinct_start_time"], params["distinct_end_time"]
        start, end = _timestamp(raw_start), _timestamp(raw_end)
        if start is None or end is None:
            raise QueryError(
                "query parameters 'distinct_start_time' and 'distinct_end_time' must be valid datetime "
                f"strings: {str(raw_start)[:100]} {str(raw_end)[:100]}"
            )
        return cls(start, end) if flag else None


def _latest_report_filter(query) -> bool | None:
    """PuppetDB also applies ``latest_report?`` to the events the latest ones are chosen from, but
    only when it is the whole query (possibly under ``not``, whose negation it then ignores):
    inside ``and``/``or`` it filters the latest events only."""
    while isinstance(query, list) and len(query) == 2 and query[0] == "not":
        query = query[1]
    if isinstance(query, list) and len(query) == 3 and query[:2] == ["=", "latest_report?"]:
        value = query[2]
        return value if isinstance(value, bool) else None
    return None


def events_entity(params: Params, window: Window, query) -> E.Entity:
    """The events entity restricted to the latest event per resource in ``window``."""
    start, end = params.add(window.start), params.add(window.end)
    latest = _latest_report_filter(query)
    latest_report = ""
    if latest is not None:
        latest_report = (
            f" AND {'' if latest else 'NOT '}EXISTS (SELECT 1 FROM inventory_node ln "
            "WHERE ln.id = le.node_id AND ln.latest_report_id = le.report_id)"
        )
    from_sql = (
        "(SELECT le.node_id, le.resource_type, le.resource_title, le.property, le.name, "
        "max(le.timestamp) AS latest FROM reports_resourceevent le "
        f"WHERE le.timestamp >= {start} AND le.timestamp <= {end}{latest_report} "
        "GROUP BY le.node_id, le.resource_type, le.resource_title, le.property, le.name) AS de "
        "JOIN reports_resourceevent ev ON ev.node_id = de.node_id AND ev.resource_type = de.resource_type "
        "AND ev.resource_title = de.resource_title AND ev.property IS NOT DISTINCT FROM de.property "
        "AND ev.name IS NOT DISTINCT FROM de.name AND ev.timestamp = de.latest"
        f"{E.EVENT_REPORT_JOIN} JOIN inventory_node n ON n.id = ev.node_id"
    )
    return replace(E.EVENTS, from_sql=from_sql)
