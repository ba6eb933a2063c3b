"""Where was X applied? — nodes whose catalog contained a class, resource, catalog or code
version, now or at a past moment, with the catalog and the report that applied it.

Uses the catalog history rows (``Catalog.valid_from`` .. ``valid_to``): "at T" means the catalog
that was current for the node at T; "during A..B" means every catalog version current at any
moment of that range. The report that applied a catalog version is the node's report made while
that version was current (preferring one that names the same ``catalog_uuid``), no later than T.
"""

# SQL text here is assembled only from static snippets; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from inventory.query.errors import QueryError

MAX_LIMIT = 100_000
# Up to this many matching resources are tested against each catalog's set directly.
MAX_DIRECT = 64


def puppet_type_name(name: str) -> str:
    """``apache::vhost`` → ``Apache::Vhost`` (how catalogs spell types and class titles)."""
    return "::".join(seg[:1].upper() + seg[1:] for seg in name.split("::"))


def _ts(value, what: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str):
        from dateutil import parser

        try:
            parsed = parser.isoparse(value.strip())
        except (ValueError, OverflowError):
            raise QueryError(f"'{what}' must be an ISO 8601 timestamp, got {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise QueryError(f"'{what}' must be a timestamp")


def _text(expr: str) -> str:
    """A timestamp as UTC text with microseconds: parsed by ``_parse`` several times faster than
    the database driver's timestamptz loader (thousands of timestamps per page)."""
    return f"to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


def _parse(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


@dataclass(frozen=True)
class Cursor:
    certname: str
    catalog_id: int


def walk(**criteria) -> Callable[[list | None, bool, int], list[dict]]:
    """``where_applied(**criteria)`` as a keyset walk (the fetch function ``inventory.ui.paging.seek``
    pages with): at most ``limit`` rows after a (certname, catalog id) position, or, ``backwards``,
    before it, nearest to the position first."""

    def fetch(values: list | None, backwards: bool, limit: int) -> list[dict]:
        cursor = Cursor(*values) if values else None
        found = where_applied(
            **criteria, limit=limit, after=None if backwards else cursor, before=cursor if backwards else None
        )
        return found[::-1] if backwards else found

    return fetch


def where_applied(
    *,
    class_name: str | None = None,
    resource_type: str | None = None,
    title: str | None = None,
    parameter: str | None = None,
    value: str | None = None,
    catalog_uuid: str | None = None,
    code_id: str | None = None,
    environment: str | None = None,
    certname: str | None = None,
    at=None,
    during=None,
    active_only: bool | None = None,
    limit: int | None = 1000,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> list[dict]:
    """Rows ``{certname, catalog: {...}, report: {...} | None}`` ordered by certname (then catalog id).

    ``after`` starts past a (certname, catalog id) cursor; ``before`` takes the ``limit`` rows just
    before one (walking the order backwards), still returned in certname order.

    Give at least one of class_name, resource_type (+ title, + parameter/value), catalog_uuid,
    code_id, environment. ``at`` (timestamp) or ``during`` ((from, to)) select history; without
    them the current catalogs are used. ``active_only`` defaults to True for "now" and False for
    history (a node deactivated since still counts for the past).
    """
    params: dict[str, object] = {}

    def p(v) -> str:
        name = f"w{len(params)}"
        params[name] = v
        return f"%({name})s"

    where: list[str] = []
    if class_name is not None:
        if not class_name.strip():
            raise QueryError("'class' must not be empty")
        resource_type, title = "Class", puppet_type_name(class_name.strip())
    resource_conds = []
    if resource_type is not None:
        resource_type = puppet_type_name(resource_type.strip())
        resource_conds.append(f"r.type = {p(resource_type)}")
    if title is not None:
        if resource_type is None:
            raise QueryError("'title' needs 'type'")
        resource_conds.append(f"r.title = {p(title)}")
    if parameter is not None:
        if resource_type is None:
            raise QueryError("'parameter' needs 'type'")
        if value is None:
            resource_conds.append(f"r.parameters ? {p(parameter)}")
        else:
            # Text comparison (so "80" finds 80 and "true" finds true), narrowed by the GIN index
            # through containment of either the JSON value the text spells or the string itself.
            import orjson

            try:
                typed = orjson.loads(value)
            except orjson.JSONDecodeError:
                typed = value
            candidates = [{parameter: str(value)}] + ([{parameter: typed}] if typed != str(value) else [])
            resource_conds.append(
                "(" + " OR ".join(f"r.parameters @> {p(orjson.dumps(c).decode())}::jsonb" for c in candidates) + ")"
                f" AND (r.parameters ->> {p(parameter)}) = {p(str(value))}"
            )
    elif value is not None:
        raise QueryError("'value' needs 'parameter'")
    resources_sql = None
    if resource_conds:
        resources_sql = (
            f"SELECT r.id FROM inventory_resource r WHERE {' AND '.join(resource_conds)} LIMIT {p(MAX_DIRECT + 1)}"
        )
    if catalog_uuid is not None:
        where.append(f"c.catalog_uuid = {p(catalog_uuid)}")
    if code_id is not None:
        where.append(f"c.code_id = {p(code_id)}")
    if environment is not None:
        where.append(f"c.environment_id = (SELECT id FROM inventory_environment WHERE name = {p(environment)})")
    if not where and resources_sql is None:
        raise QueryError("say what to look for: class, type (+ title), catalog_uuid, code_id or environment")
    if certname is not None:
        where.append(f"n.certname = {p(certname)}")

    if at is not None and during is not None:
        raise QueryError("give either 'at' or 'during', not both")
    upper = None
    if at is not None:
        t = _ts(at, "at")
        where.append(f"c.valid_from <= {p(t)} AND (c.valid_to IS NULL OR c.valid_to > {p(t)})")
        upper = t
    elif during is not None:
        if not isinstance(during, list | tuple) or len(during) != 2:
            raise QueryError("'during' must be two timestamps: from,to")
        start, end = _ts(during[0], "during"), _ts(during[1], "during")
        if end < start:
            raise QueryError("'during' ends before it starts")
        where.append(f"c.valid_from <= {p(end)} AND (c.valid_to IS NULL OR c.valid_to > {p(start)})")
        upper = end
    else:
        where.append("c.valid_to IS NULL")
    if active_only is None:
        active_only = at is None and during is None
    if active_only:
        where.append("n.deactivated IS NULL AND n.expired IS NULL")
    if after is not None:
        where.append(f"(n.certname, c.id) > ({p(after.certname)}, {p(after.catalog_id)})")
    if before is not None:
        where.append(f"(n.certname, c.id) < ({p(before.certname)}, {p(before.catalog_id)})")
    walk = "n.certname DESC, c.id DESC" if before is not None else "n.certname, c.id"
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= MAX_LIMIT):
        raise QueryError(f"'limit' must be an integer between 1 and {MAX_LIMIT}")

    joins = ""
    if resources_sql is not None:
        with connection.cursor() as cursor:
            cursor.execute(resources_sql, params)
            resource_ids = [row[0] for row in cursor.fetchall()]
            if not resource_ids:
                return []
            if len(resource_ids) <= MAX_DIRECT:
                # The few matching resources, as a constant array the planner can estimate from
                # the resource-id statistics of the sets: a rare resource is found through the
                # sets' GIN index, a common one (a class on a quarter of the fleet) by walking
                # the nodes in certname order and testing each catalog's set, stopping at the
                # page size.
                if resource_type == "Class":
                    # Classes: the (class, set) B-tree the database keeps (migration 0012), a
                    # primary-key probe per walked catalog instead of reading its set's row.
                    where.append(
                        "EXISTS (SELECT 1 FROM inventory_classmember cm WHERE cm.set_id = c.resource_set_id "
                        f"AND cm.resource_id = ANY({p(resource_ids)}::bigint[]))"
                    )
                else:
                    joins = "JOIN inventory_resourceset rs ON rs.id = c.resource_set_id"
                    where.append(f"rs.resource_ids && {p(resource_ids)}::bigint[]")
            else:
                # Many resources (a type without a title): the sets holding any of them through
                # the GIN index, passed as one array so the catalogs are tested with a hash.
                cursor.execute(
                    "SELECT coalesce(array_agg(rs.id), '{}') FROM inventory_resourceset rs WHERE rs.resource_ids && "
                    f"ARRAY(SELECT r.id FROM inventory_resource r WHERE {' AND '.join(resource_conds)})",
                    params,
                )
                sets = cursor.fetchone()[0]
                if not sets:
                    return []
                where.append(f"c.resource_set_id = ANY({p(sets)}::bigint[])")
    upper_sql = p(upper) if upper is not None else "NULL::timestamptz"
    # Fast path: the current catalog and the node's latest report (made after it was compiled).
    fast = (
        f"(c.valid_to IS NULL AND n.report_timestamp >= c.valid_from "
        f"AND ({upper_sql} IS NULL OR n.report_timestamp <= {upper_sql}))"
    )
    limit_sql = f"LIMIT {p(limit)}" if limit is not None else ""
    # Pick the page of (node, catalog) rows first, then look up the applying report for those
    # rows only. ``fast``: the current catalog was applied by the node's latest report.
    sql = f"""
        SELECT x.certname, x.active, x.cid, x.catalog_uuid, x.code_id, x.transaction_uuid, x.hash, x.version,
               (SELECT name FROM inventory_environment WHERE id = x.environment_id),
               {_text("x.valid_from")}, {_text("x.valid_to")}, {_text("x.producer_timestamp")},
               CASE WHEN x.fast THEN x.latest_report_hash ELSE rep.hash END,
               CASE WHEN x.fast THEN x.latest_report_status ELSE rep.status END,
               {_text("CASE WHEN x.fast THEN x.report_timestamp ELSE rep.producer_timestamp END")},
               CASE WHEN x.fast THEN x.latest_report_noop ELSE rep.noop END
        FROM (
            SELECT n.certname, n.deactivated IS NULL AND n.expired IS NULL AS active, c.id AS cid, c.node_id,
                   c.catalog_uuid, c.code_id, c.transaction_uuid, c.hash, c.version, c.environment_id,
                   c.valid_from, c.valid_to, c.producer_timestamp, n.latest_report_hash, n.latest_report_status,
                   n.report_timestamp, n.latest_report_noop, {fast} AS fast
            FROM inventory_catalog c
            JOIN inventory_node n ON n.id = c.node_id
            {joins}
            WHERE {" AND ".join(where)}
            ORDER BY {walk}
            {limit_sql}
        ) AS x
        LEFT JOIN LATERAL (
            SELECT r.hash, r.status, r.producer_timestamp, r.noop
            FROM reports_report r
            WHERE r.node_id = x.node_id AND r.producer_timestamp >= x.valid_from
              AND (x.valid_to IS NULL OR r.producer_timestamp < x.valid_to)
              AND ({upper_sql} IS NULL OR r.producer_timestamp <= {upper_sql})
              AND r.type = 'agent'
              AND NOT x.fast
            ORDER BY (r.catalog_uuid IS NOT DISTINCT FROM x.catalog_uuid) DESC, r.producer_timestamp DESC
            LIMIT 1
        ) AS rep ON TRUE
        ORDER BY x.certname, x.cid
    """
    # The page is an ordered walk that stops at the page size; parallel workers would each walk a
    # share of the nodes and be merged, which costs more than it saves (2x slower here for a class
    # on a quarter of 50,000 nodes). So parallel workers are off for this query only: set before it
    # and restored after it, in one round trip (statements sent together run in one transaction, so
    # in autocommit the setting also ends with them; inside a transaction it is restored).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('stagehand.parallel_workers', current_setting('max_parallel_workers_per_gather'), true),"
            f" set_config('max_parallel_workers_per_gather', '0', true); {sql};"
            " SELECT set_config('max_parallel_workers_per_gather', current_setting('stagehand.parallel_workers'), true)",
            params,
        )
        cursor.nextset()
        rows = cursor.fetchall()
    out = []
    for row in rows:
        (cert, active, cid, cuuid, ccode, ctxn, chash, cver, cenv, vfrom, vto, cts, rhash, rstatus, rts, rnoop) = row
        vfrom, vto, cts, rts = _parse(vfrom), _parse(vto), _parse(cts), _parse(rts)
        out.append(
            {
                "certname": cert,
                "active": active,
                "catalog": {
                    "id": cid,
                    "catalog_uuid": cuuid,
                    "code_id": ccode,
                    "transaction_uuid": ctxn,
                    "hash": chash,
                    "version": cver,
                    "environment": cenv,
                    "producer_timestamp": cts,
                    "valid_from": vfrom,
                    "valid_to": vto,
                },
                "report": (
                    {"hash": rhash, "status": rstatus, "producer_timestamp": rts, "noop": rnoop} if rhash else None
                ),
            }
        )
    return out
