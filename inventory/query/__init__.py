"""The query language: PuppetDB v4 AST and PQL, compiled to parameterised SQL.

One implementation serves the PuppetDB-compatible API (``api/puppetdb``), the native API's
``query`` parameter and the UI search box (``node_queryset``).

* ``parse_query_text(text)``: JSON AST text or PQL → AST.
* ``build(entity, query, paging, extra)``: AST → ``Compiled`` (SQL with bound parameters).
* ``run(compiled, include_total=...)``: execute, returning the JSON body text and the total.
* ``explain_analyze(compiled)``: PuppetDB's ``explain=analyze``: the plan of the compiled SQL, run
  in a read-only transaction that is rolled back.
* ``node_queryset(query)``: a ``Node`` queryset filtered by an AST, PQL or UI condition.
"""

# SQL text here is assembled only from static snippets; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import re

import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.models.expressions import RawSQL

from inventory.query import distinct, pql
from inventory.query import entities as E
from inventory.query.compiler import (
    Compiled,
    Compiler,
    Paging,
    check_count,
    entity_named,
    is_fact_condition,
    mentions,
    top_conjuncts,
)
from inventory.query.errors import QueryError

__all__ = [
    "Compiled",
    "Paging",
    "QueryError",
    "Window",
    "build",
    "check_count",
    "explain_analyze",
    "node_queryset",
    "parse_query_text",
    "run",
    "UI_ALIASES",
]

Window = distinct.Window
UI_ALIASES = {"status": "latest_report_status", "environment": "report_environment"}
_PARAM = re.compile(r"%\((p\d+)\)s")


def parse_json(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise QueryError(f"malformed JSON in query: {exc.args[0] if exc.args else exc}") from None


def parse_query_text(text, *, allow_pql: bool = True):
    """A query as sent over HTTP: JSON AST text (starts with ``[``) or PQL."""
    if isinstance(text, list):
        return text
    if not isinstance(text, str):
        raise QueryError("query must be a JSON array or a PQL string")
    stripped = text.strip()
    if not stripped:
        return None
    if stripped.startswith("["):
        return parse_json(stripped)
    if not allow_pql:
        raise QueryError("query must be a JSON array (PQL is accepted only at /pdb/query/v4)")
    return pql.parse(stripped)


def _and(query, extra: list):
    """AND the sub-route conditions ``extra`` into ``query`` (which may be an extract)."""
    if not extra:
        return query
    if isinstance(query, list) and query and query[0] == "extract":
        fields, rest = query[1], query[2:]
        cond = None
        tail = []
        for item in rest:
            if isinstance(item, list) and item and item[0] == "group_by":
                tail.append(item)
            else:
                cond = item
        merged = ["and", *extra] + ([cond] if cond is not None else [])
        return ["extract", fields, merged, *tail]
    if query is None:
        return ["and", *extra]
    return ["and", *extra, query]


def _variant(compiler: Compiler, entity: E.Entity, cond, window, facts_expiration: bool) -> E.Entity:
    """The entity as the request's options shape it (PuppetDB's ``include_facts_expiration`` and
    ``distinct_resources``)."""
    if facts_expiration and entity.name == "nodes":
        return E.NODES_WITH_FACT_EXPIRATION
    if window is not None and entity.name == "events":
        return distinct.events_entity(compiler.params, window, cond)
    return entity


def build(
    entity_name: str | None,
    query,
    paging: Paging | None = None,
    extra: list | None = None,
    *,
    window: distinct.Window | None = None,
    facts_expiration: bool = False,
) -> Compiled:
    """Compile a query for ``entity_name`` (None: the root endpoint, whose query is ``["from", ...]``).
    ``window``: events only, the latest event per resource in it (``distinct_resources``);
    ``facts_expiration``: nodes output ``expires_facts`` and ``expires_facts_updated``."""
    compiler = Compiler(root=entity_name is None)
    paging = paging or Paging()
    if entity_name is None:
        if not (isinstance(query, list) and query and query[0] == "from"):
            raise QueryError('the root query endpoint needs a query of the form ["from", <entity>, ...] or PQL')
        entity, fields, cond, group_by, inner = compiler._from(query, mode="rows", paging=paging)
        paging = inner
    else:
        entity = entity_named(entity_name)
        query = _and(query, extra or [])
        fields, cond, group_by = None, query, None
        if isinstance(query, list) and query and query[0] == "extract":
            fields, cond, group_by = compiler._extract_parts(query)
        if isinstance(query, list) and query and query[0] == "from":
            raise QueryError("'from' is only allowed at /pdb/query/v4 or inside 'in'")
    if cond is not None and not isinstance(cond, list):
        raise QueryError(f"{orjson.dumps(cond).decode()[:200]} is not a valid query")
    entity = _variant(compiler, entity, cond, window, facts_expiration)
    sql, count_sql = compiler.select_with_count(entity, fields, cond, group_by=group_by, paging=paging)
    return Compiled(
        entity=entity.name,
        sql=sql,
        params=compiler.params.values,
        count_sql=count_sql,
        scalar=entity.scalar_output is not None and fields is None,
    )


def positional(sql: str, params: dict) -> tuple[str, list]:
    """Named ``%(pN)s`` placeholders → positional ``%s`` (for embedding into ORM queries)."""
    values: list = []

    def repl(match):
        values.append(params[match.group(1)])
        return "%s"

    return _PARAM.sub(repl, sql), values


def _execute(cursor, sql, params):
    try:
        # Inside a caller's transaction a savepoint keeps it usable after a failing statement; in
        # autocommit the connection stays usable anyway, so no BEGIN/COMMIT round trips are spent.
        db = cursor.db
        with transaction.atomic(using=db.alias) if db.in_atomic_block else contextlib.nullcontext():
            if not getattr(settings, "QUERY_PREPARED_STATEMENTS", False):
                cursor.execute(sql, params)
                return cursor.fetchall()
            # Bound server-side, so that psycopg prepares a statement the connection has run
            # ``prepare_threshold`` times: PostgreSQL then skips its parse and (with a generic
            # plan) its planning, 0.2-0.6 ms of the PuppetDB API's typical queries.
            with db.wrap_database_errors, psycopg.Cursor(db.connection) as server_bound:
                server_bound.execute(sql, params)
                return server_bound.fetchall()
    except DatabaseError as exc:
        cause = exc.__cause__
        state = getattr(getattr(cause, "diag", None), "sqlstate", None) or getattr(cause, "sqlstate", None)
        if state == "2201B":  # invalid_regular_expression
            detail = getattr(getattr(cause, "diag", None), "message_primary", None) or "invalid regular expression"
            raise QueryError(
                f"invalid regular expression: {detail.removeprefix('invalid regular expression: ')}"
            ) from None
        if state == "57014":  # query_canceled (statement timeout)
            raise QueryError("the query took too long and was cancelled") from None
        if state and state[:2] in ("22", "42"):
            raise QueryError(
                "the query could not be evaluated: a value does not fit the field it is compared with"
            ) from None
        raise


def run(compiled: Compiled, *, include_total: bool = False, using: str = "default", timeout_ms: int | None = None):
    """Execute; returns ``(json_text, total or None)``."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if timeout_ms:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [str(int(timeout_ms))])
        try:
            rows = _execute(cursor, compiled.sql, compiled.params)
            total = _execute(cursor, compiled.count_sql, compiled.params)[0][0] if include_total else None
        finally:
            if timeout_ms:
                cursor.execute("SELECT set_config('statement_timeout', '0', false)")
    if compiled.scalar:
        body = orjson.dumps([r[0] for r in rows]).decode()
    else:
        body = "[" + ",".join(r[0] for r in rows) + "]"
    return body, total


EXPLAIN = "EXPLAIN (ANALYZE, VERBOSE, BUFFERS, FORMAT JSON) "


def explain_analyze(
    compiled: Compiled, *, include_total: bool = False, using: str = "default", timeout_ms: int | None = None
) -> tuple[list, int | None]:
    """PuppetDB's ``explain=analyze``: ``([{"query plan": <EXPLAIN ANALYZE JSON>}], total or None)``
    for the SQL that would answer ``compiled`` (the same parameterised statement; PuppetDB names
    the column in lower case). ANALYZE executes the statement, so it runs in a read-only
    transaction (a savepoint inside an open one) that is always rolled back, under the caller's
    statement timeout."""
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        try:
            cursor.execute("SET TRANSACTION READ ONLY")
            if timeout_ms:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(int(timeout_ms))])
            rows = _execute(cursor, EXPLAIN + compiled.sql, compiled.params)
            total = _execute(cursor, compiled.count_sql, compiled.params)[0][0] if include_total else None
        finally:
            transaction.set_rollback(True, using=using)
    plans = [{"query plan": orjson.loads(plan) if isinstance(plan, str | bytes) else plan} for (plan,) in rows]
    return plans, total


def run_rows(compiled: Compiled, using: str = "default") -> list:
    """Execute and return parsed rows (for Python callers)."""
    body, _ = run(compiled, using=using)
    return orjson.loads(body)


def _apply_aliases(node, aliases: dict):
    if not isinstance(node, list) or not node:
        return node
    op = node[0]
    if op in ("and", "or", "not"):
        return [op, *[_apply_aliases(x, aliases) for x in node[1:]]]
    if op in ("from", "subquery", "extract") or (isinstance(op, str) and op.startswith("select_")):
        return node
    if len(node) >= 2 and isinstance(node[1], str) and node[1] in aliases:
        return [op, aliases[node[1]], *node[2:]]
    return node


def node_condition(query):
    """Normalise what a caller may pass as a node filter into an AST condition (or None)."""
    if query is None:
        return None
    if isinstance(query, str):
        text = query.strip()
        if not text:
            return None
        if text.startswith("["):
            query = parse_json(text)
        elif re.match(r"^[a-z_]+\s*(\[[^\]]*\])?\s*\{", text):
            query = pql.parse(text)
        else:
            return _apply_aliases(pql.parse_condition(text, barewords=True), UI_ALIASES)
    if not isinstance(query, list):
        raise QueryError("a node query must be a JSON array, PQL or a condition")
    if query and query[0] == "from":
        if len(query) < 2 or query[1] != "nodes":
            raise QueryError("a node query must select from nodes")
        rest = [q for q in query[2:] if not (isinstance(q, list) and q and q[0] in ("limit", "offset", "order_by"))]
        if not rest:
            return None
        cond = rest[0]
        if isinstance(cond, list) and cond and cond[0] == "extract":
            cond = (
                cond[2] if len(cond) > 2 and not (isinstance(cond[2], list) and cond[2][:1] == ["group_by"]) else None
            )
        return cond
    if query and query[0] == "extract":
        raise QueryError("a node query is a condition, not an extract")
    return query


# At most this many nodes selected by the other conditions: their facts are tested one by one.
FACT_SCAN_LIMIT = 5000


def _fact_index_pays(cond, active: bool) -> bool:
    """Whether fact equality in ``cond`` should go through the factsets' GIN index.

    PostgreSQL cannot estimate how many documents a JSONB containment matches (it assumes 1%),
    so next to another condition (``status = failed``) it always starts from the GIN index and
    reads every matching factset: a third of the fleet for ``facts.os.family = "RedHat"``. When
    the other top-level conditions select at most ``FACT_SCAN_LIMIT`` nodes (counted here, with a
    bound), testing those nodes' facts is cheaper and its cost is bounded."""
    conjuncts = top_conjuncts(cond)
    others = [c for c in conjuncts if not is_fact_condition(c)]
    if not others or len(others) == len(conjuncts):
        return True
    probe = Compiler()
    where = [probe.condition(E.NODES, ["and", *others])] + ([E.NODES.active_sql] if active else [])
    limit = probe.params.add(FACT_SCAN_LIMIT + 1)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {E.NODES.from_sql} WHERE {' AND '.join(where)} LIMIT {limit}) AS x"
    from inventory.models import Node

    with connections[router.db_for_read(Node)].cursor() as cursor:
        selected = _execute(cursor, sql, probe.params.values)[0][0]
    return selected > FACT_SCAN_LIMIT


def node_queryset(query, *, active_only: bool = True):
    """``Node`` objects matching ``query``: a JSON AST (list or JSON text), full PQL
    (``nodes[certname] { ... }``) or a bare condition as typed in the UI search box
    (``facts.os.family = "Debian" and status = failed``; ``status`` and ``environment`` are
    aliases of ``latest_report_status`` and ``report_environment``; unquoted words are values)."""
    from inventory.models import Node

    cond = node_condition(query)
    compiler = Compiler()
    active = active_only and not mentions(cond, {"node_state"})
    where = []
    if cond is not None:
        compiler.fact_index = _fact_index_pays(cond, active)
        where.append(compiler.condition(E.NODES, cond))
    if active:
        where.append(E.NODES.active_sql)
    qs = Node.objects.all()
    if not where:
        return qs
    sql = f"SELECT n.id FROM {E.NODES.from_sql} WHERE " + " AND ".join(where)
    sql, values = positional(sql, compiler.params.values)
    return qs.filter(id__in=RawSQL(sql, values))
