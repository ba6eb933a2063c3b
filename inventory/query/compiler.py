"""PuppetDB v4 query AST → validated, parameterised SQL over Stagehand's schema.

The compiler validates while it compiles: every list is checked for its operator, arity and
operand types, every field is looked up in the entity's field table (``entities.py``), and every
value is passed to PostgreSQL as a named bound parameter. Nothing from the query is ever pasted
into the SQL text: field names select static SQL snippets, values become ``%(pN)s``.
"""

# SQL text here is assembled only from static snippets; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import orjson
from dateutil import parser as dateparser

from inventory.query import entities as E
from inventory.query.errors import QueryError

MAX_LIMIT = 2**31 - 1
MAX_DEPTH = 64
COMPARISON = ("<", ">", "<=", ">=")
FUNCTIONS = {"count", "avg", "sum", "min", "max", "to_string"}
NODE_STATES = ("active", "inactive", "any")


@dataclass
class Paging:
    limit: int | None = None
    offset: int | None = None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)


@dataclass
class Compiled:
    entity: str
    sql: str
    params: dict
    count_sql: str
    scalar: bool = False


class Params:
    """The bound values of one statement. An equal scalar value added again with the same cast
    gets the same placeholder: bound server-side, ``to_char(t, $1)`` in the select list and
    ``to_char(t, $2)`` in the GROUP BY are different expressions to PostgreSQL even when ``$1``
    and ``$2`` hold the same format, and the statement is refused."""

    def __init__(self):
        self.values: dict[str, object] = {}
        self._names: dict[tuple, str] = {}

    def add(self, value, cast: str = "") -> str:
        key = (type(value), value, cast) if isinstance(value, _SHAREABLE) else None
        name = self._names.get(key) if key is not None else None
        if name is None:
            name = f"p{len(self.values)}"
            self.values[name] = value
            if key is not None:
                self._names[key] = name
        return f"%({name})s{cast}"


_SHAREABLE = (str, int, float, bool, dt.datetime)


# A string literal or a bound parameter with no cast: of unknown type in PostgreSQL.
_UNTYPED = re.compile(r"E?'(?:[^']|'')*'|%\(\w+\)s")


class JsonText(str):
    """A value expression that already yields JSON text and is never NULL (e.g. ``count(*)::text``
    or a nested :func:`json_object_sql`): :func:`json_object_sql` splices it in as it is."""


def json_object_sql(params: Params, items: list[tuple[str, str]]) -> str:
    """SQL for the JSON text of an object with the keys and value expressions ``items``.

    Concatenated from bound JSON fragments (``{"key":``) and ``to_json`` of each value rather
    than built with ``json_build_object``, whose variadic-argument handling costs about twice the
    CPU per row (100,000 rows of 4 fields: 100 ms against 61 ms). The JSON is the same but for
    whitespace. A bare ``NULL`` (a field with no value) is written as ``null``; a
    :class:`JsonText` value is spliced in without ``to_json``."""
    if not items:
        return "'{}'::text"
    parts = []
    for i, (key, sql) in enumerate(items):
        parts.append(params.add(("{" if i == 0 else ",") + orjson.dumps(key).decode() + ":", "::text"))
        if isinstance(sql, JsonText):
            parts.append(f"({sql})")
            continue
        sql = sql.strip()
        if sql.upper() == "NULL":
            parts.append("'null'")
            continue
        if _UNTYPED.fullmatch(sql):  # to_json() cannot take an untyped literal; json_build_object reads it as text
            sql += "::text"
        parts.append(f"coalesce(to_json({sql})::text, 'null')")
    parts.append("'}'")
    return "(" + " || ".join(parts) + ")"


def _field_json(field: E.Field | None, sql: str) -> str:
    """A plain integer, boolean or timestamp field's JSON text without ``to_json`` (its text is
    its JSON, a formatted timestamp needs only quotes): ~0.1 µs less per value. Anything else
    (an ``out_sql``, an expression, a function) goes through ``to_json``."""
    if field is None or field.out_sql or sql != field.output_sql():
        return sql
    if field.type == "timestamp":
        return JsonText(f"""coalesce('"' || {sql} || '"', 'null')""")
    if field.type in ("integer", "boolean"):
        return JsonText(f"coalesce(({sql})::text, 'null')")
    return sql


def entity_named(name) -> E.Entity:
    if not isinstance(name, str):
        raise QueryError(f"entity name must be a string, got {_show(name)}")
    key = E.ALIASES.get(name, name)
    entity = E.ENTITIES.get(key)
    if entity is None:
        raise QueryError(f"{name!r} is not a queryable object; known objects are {', '.join(sorted(E.ENTITIES))}")
    return entity


def _show(value) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


# --- dotted paths ----------------------------------------------------------------------------

_SEGMENT = re.compile(r'"((?:[^"\\]|\\.)*)"|([^."\[\]]+)|\[(\d+)\]')


def split_dotted(name: str) -> list[str] | None:
    """``facts.os."a.b"[0]`` → ``["facts", "os", "a.b", "0"]``; None if ``name`` has no dots/indexes."""
    if "." not in name and "[" not in name:
        return None
    out: list[str] = []
    pos = 0
    expect_dot = False
    while pos < len(name):
        if expect_dot:
            if name[pos] == ".":
                pos += 1
            elif name[pos] != "[":
                raise QueryError(f"malformed dotted field {name!r}")
        match = _SEGMENT.match(name, pos)
        if not match or match.end() == pos:
            raise QueryError(f"malformed dotted field {name!r}")
        quoted, plain, index = match.groups()
        if quoted is not None:
            out.append(re.sub(r"\\(.)", r"\1", quoted))
        elif index is not None:
            out.append(index)
        else:
            if plain.startswith("match(") or "(" in plain:
                raise QueryError(f"match() segments are not supported in {name!r}")
            out.append(plain)
        pos = match.end()
        expect_dot = True
    return out


# --- the compiler ----------------------------------------------------------------------------


@dataclass
class Resolved:
    sql: str
    type: str
    name: str
    eq_sql: str | None = None
    out_sql: str | None = None
    # For JSON values inside an indexed document: ("facts" | "parameters", path segments), so
    # equality can add a GIN-indexable containment test.
    contain: tuple[str, list[str]] | None = None


def facts_path_sql(params: Params, path: list[str]) -> str:
    """A path inside a node's facts without merging stable and volatile (a top-level fact lives
    in exactly one of them)."""
    if len(path) == 1:
        p = params.add(path[0])
        return f"coalesce(fs.volatile -> {p}, fs.stable -> {p})"
    p = params.add(path, "::text[]")
    return f"coalesce(fs.volatile #> {p}, fs.stable #> {p})"


def _nest(path: list[str], value):
    for segment in reversed(path):
        value = {segment: value}
    return value


class Compiler:
    def __init__(self, params: Params | None = None, *, root: bool = False):
        self.params = params or Params()
        self.depth = 0
        # Compiling for the root endpoint: the active-node filter applies to every entity.
        self.root = root
        # Whether fact equality is written so that the factsets' GIN indexes can answer it (see
        # ``containment``); ``inventory.query.node_queryset`` turns it off when other conditions
        # select few nodes.
        self.fact_index = True

    # fields

    def resolve(self, entity: E.Entity, spec, *, for_output=False) -> Resolved:
        if isinstance(spec, list):
            if len(spec) == 2 and spec[0] == "fact" and entity.name == "nodes":
                name = self._string(spec[1], "fact name")
                return Resolved(facts_path_sql(self.params, [name]), "json", name, contain=("facts", [name]))
            if len(spec) == 2 and spec[0] == "parameter" and entity.name == "resources":
                name = self._string(spec[1], "parameter name")
                return Resolved(
                    f"(r.parameters -> {self.params.add(name)})", "json", name, contain=("parameters", [name])
                )
            raise QueryError(f"{_show(spec)} is not a valid field for {entity.name}")
        if not isinstance(spec, str):
            raise QueryError(f"field must be a string, got {_show(spec)}")
        f = entity.fields.get(spec)
        if f is not None and (f.queryable or for_output):
            out = f.output_sql() if for_output else None
            return Resolved(f.sql, f.type, spec, f.eq_sql, out)
        segments = split_dotted(spec) if f is None else None
        if segments and segments[0] in entity.documents and len(segments) > 1:
            if entity.documents[segments[0]] == E.FACTS_DOC or segments[0] == "trusted":
                path = segments[1:] if segments[0] == "facts" else ["trusted", *segments[1:]]
                return Resolved(facts_path_sql(self.params, path), "json", spec, contain=("facts", path))
            doc = entity.documents[segments[0]]
            path = self.params.add(segments[1:], "::text[]")
            contain = ("parameters", segments[1:]) if segments[0] == "parameters" else None
            return Resolved(f"({doc} #> {path})", "json", spec, contain=contain)
        if f is not None:
            raise QueryError(f"'{spec}' is not a queryable field for {entity.name}")
        known = ", ".join(n for n, x in entity.fields.items() if x.queryable)
        raise QueryError(f"'{spec}' is not a queryable object for {entity.name}, known queryable objects are {known}")

    def _string(self, value, what) -> str:
        if not isinstance(value, str):
            raise QueryError(f"{what} must be a string, got {_show(value)}")
        return value

    # values

    def _timestamp(self, value, fieldname) -> dt.datetime:
        if not isinstance(value, str):
            raise QueryError(f"'{_show(value)}' is not a valid timestamp value for field '{fieldname}'")
        try:
            parsed = dateparser.isoparse(value)
        except (ValueError, OverflowError):
            try:
                parsed = dateparser.parse(value)
            except (ValueError, OverflowError, TypeError) as exc:
                raise QueryError(f"'{value}' is not a valid timestamp value for field '{fieldname}'") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed

    def _eq(self, r: Resolved, value) -> str:
        t = r.type
        if t == "string":
            if not isinstance(value, str):
                raise QueryError(f"'{r.name}' is a string field; {_show(value)} is not a string")
            if r.eq_sql:
                return r.eq_sql.format(p=self.params.add(value))
            return f"{r.sql} = {self.params.add(value)}"
        if t == "integer":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise QueryError(f"'{r.name}' is a numeric field; {_show(value)} is not a number")
            return f"{r.sql} = {self.params.add(value, '::numeric')}"
        if t == "boolean":
            if isinstance(value, str) and value in ("true", "false"):
                value = value == "true"
            if not isinstance(value, bool):
                raise QueryError(f"'{r.name}' is a boolean field; {_show(value)} is not a boolean")
            return f"{r.sql} = {self.params.add(value)}"
        if t == "timestamp":
            return f"{r.sql} = {self.params.add(self._timestamp(value, r.name))}"
        if t == "array":
            if not isinstance(value, str):
                raise QueryError(f"'{r.name}' holds strings; {_show(value)} is not a string")
            if r.name == "tag":
                value = value.lower()
            return f"{r.sql} @> ARRAY[{self.params.add(value)}]::text[]"
        if t == "json":
            hint = self.containment(r.contain, value)
            if hint:
                # Containment is PuppetDB's "=" on a path inside a document (an array there
                # matches when one of its elements does) and is answered by the GIN index.
                return hint
            return f"{r.sql} = {self.params.add(orjson.dumps(value).decode(), '::jsonb')}"
        if t == "path":
            if not isinstance(value, list) or not all(
                isinstance(x, str | int) and not isinstance(x, bool) for x in value
            ):
                raise QueryError(f"'{r.name}' must be compared with an array of strings and integers")
            return f"{r.sql} = {self.params.add(orjson.dumps(value).decode(), '::jsonb')}"
        raise QueryError(f"'{r.name}' cannot be compared with =")

    def containment(self, contain, value) -> str | None:
        """A GIN-indexable ``@>`` test implied by ``path = value`` (scalars, object keys only)."""
        if contain is None or isinstance(value, dict | list):
            return None
        kind, path = contain
        if not path or any(seg.isdigit() for seg in path):
            return None
        doc = self.params.add(orjson.dumps(_nest(path, value)).decode(), "::jsonb")
        if kind == "facts" and not self.fact_index:
            # The same test on the same documents (``#>`` with no path is the document itself),
            # in a form no index matches: evaluated on the nodes the other conditions select.
            return f"((fs.stable #> '{{}}') @> {doc} OR (fs.volatile #> '{{}}') @> {doc})"
        if kind == "facts":
            return f"(fs.stable @> {doc} OR fs.volatile @> {doc})"
        return f"r.parameters @> {doc}"

    def _compare(self, op: str, r: Resolved, value) -> str:
        if r.type == "timestamp":
            return f"{r.sql} {op} {self.params.add(self._timestamp(value, r.name))}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            if isinstance(value, str) and r.type in ("integer", "json"):
                try:
                    value = float(value) if any(c in value for c in ".eE") else int(value)
                except ValueError:
                    raise QueryError(f"{op} requires a number, got {_show(value)}") from None
            else:
                raise QueryError(f"{op} requires a number or a timestamp, got {_show(value)} for '{r.name}'")
        if r.type == "integer":
            return f"{r.sql} {op} {self.params.add(value, '::numeric')}"
        if r.type == "json":
            return (
                f"(CASE WHEN jsonb_typeof({r.sql}) = 'number' THEN ({r.sql})::numeric END) "
                f"{op} {self.params.add(value, '::numeric')}"
            )
        raise QueryError(f"Query operators >,>=,<,<= are not allowed on field {r.name}")

    def _regex(self, r: Resolved, value) -> str:
        if not isinstance(value, str):
            raise QueryError(f"~ requires a regular expression string, got {_show(value)}")
        if len(value) > 10_000:
            raise QueryError("regular expression too long")
        p = self.params.add(value)
        if r.type == "string":
            return f"{r.sql} ~ {p}"
        if r.type == "array":
            return f"EXISTS (SELECT 1 FROM unnest({r.sql}) AS rx(v) WHERE rx.v ~ {p})"
        if r.type == "json":
            return f"(CASE WHEN jsonb_typeof({r.sql}) = 'string' THEN ({r.sql} #>> '{{}}') END) ~ {p}"
        if r.type == "path":
            return f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({r.sql}) AS rx(v) WHERE rx.v ~ {p})"
        raise QueryError(f"~ is not allowed on field {r.name}")

    # conditions

    def condition(self, entity: E.Entity, node) -> str:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError("query is nested too deeply")
        try:
            return self._condition(entity, node)
        finally:
            self.depth -= 1

    def _condition(self, entity: E.Entity, node) -> str:
        if not isinstance(node, list) or not node:
            raise QueryError(f"{_show(node)} is not a valid query term: expected [operator, ...]")
        op = node[0]
        if not isinstance(op, str):
            raise QueryError(f"{_show(op)} is not a valid operator")
        if op in ("and", "or"):
            if len(node) < 2:
                raise QueryError(f"'{op}' takes at least one argument")
            parts = [self.condition(entity, x) for x in node[1:]]
            return "(" + f" {op.upper()} ".join(parts) + ")"
        if op == "not":
            if len(node) != 2:
                raise QueryError(f"'not' takes exactly one argument, got {len(node) - 1}")
            return f"(NOT coalesce({self.condition(entity, node[1])}, FALSE))"
        if op in ("=", "~", "null?", "~>", *COMPARISON):
            if len(node) != 3:
                raise QueryError(f"'{op}' takes exactly two arguments, got {len(node) - 1}")
            return self._binary(entity, op, node[1], node[2])
        if op == "in":
            if len(node) != 3:
                raise QueryError(f"'in' takes exactly two arguments, got {len(node) - 1}")
            return self._in(entity, node[1], node[2])
        if op == "subquery":
            if len(node) not in (2, 3):
                raise QueryError("'subquery' takes an entity and an optional query")
            target = entity_named(node[1])
            keys = E.implicit_join(entity.name, target.name)
            if keys is None:
                raise QueryError(f"there is no implicit relationship between {entity.name} and {target.name}")
            mine, theirs = keys
            query = node[2] if len(node) == 3 else None
            if mine == theirs == ("certname",) and E.NODE_KEY in entity.fields and E.NODE_KEY in target.fields:
                # A certname names one node row: relate the two by node id, so that neither side
                # reads the node row for its certname (the subquery then skips its node join).
                mine = theirs = (E.NODE_KEY,)
            sub = self.select(target, list(theirs), query, mode="columns")
            lhs = ", ".join(self.resolve(entity, k, for_output=True).sql for k in mine)
            return f"(({lhs}) IN ({sub}))"
        if op == "extract" or op == "from" or op.startswith("select_"):
            raise QueryError(f"'{op}' is not allowed here; use it inside 'in'")
        raise QueryError(f"{_show(op)} is not a valid operator")

    def _binary(self, entity: E.Entity, op: str, fieldspec, value) -> str:
        # Pseudo fields.
        if fieldspec == "node_state":
            if op != "=" or value not in NODE_STATES:
                raise QueryError("node_state supports only = with 'active', 'inactive' or 'any'")
            if entity.active_sql is None:
                return "TRUE"
            return {"active": f"({entity.active_sql})", "inactive": f"(NOT ({entity.active_sql}))", "any": "TRUE"}[
                value
            ]
        if fieldspec == "latest_report?" and entity.has_latest_report:
            if op != "=" or not isinstance(value, bool):
                raise QueryError("latest_report? supports only = with true or false")
            rid = "r.id" if entity.name == "reports" else "ev.report_id"
            return f"({rid} = n.latest_report_id)" if value else f"({rid} IS DISTINCT FROM n.latest_report_id)"
        if fieldspec == "type" and entity.has_report_type and value == "any" and op == "=":
            return "TRUE"
        if fieldspec == "at" and entity.has_history:
            if op != "=":
                raise QueryError("'at' supports only =")
            p = self.params.add(self._timestamp(value, "at"))
            return f"(c.valid_from <= {p} AND (c.valid_to IS NULL OR c.valid_to > {p}))"
        r = self.resolve(entity, fieldspec)
        if op == "=":
            return self._eq(r, value)
        if op in COMPARISON:
            return self._compare(op, r, value)
        if op == "~":
            return self._regex(r, value)
        if op == "null?":
            if not isinstance(value, bool):
                raise QueryError(f"null? requires true or false, got {_show(value)}")
            if r.type == "json" and value:
                return f"({r.sql} IS NULL OR {r.sql} = 'null'::jsonb)"
            return f"({r.sql} IS {'' if value else 'NOT '}NULL)"
        if op == "~>":
            if r.type != "path":
                raise QueryError(f"~> is only allowed on path fields, not '{r.name}'")
            if not isinstance(value, list) or not value:
                raise QueryError("~> requires a non-empty array of regular expressions")
            parts = [f"jsonb_array_length({r.sql}) = {self.params.add(len(value))}"]
            for i, rx in enumerate(value):
                if isinstance(rx, bool) or not isinstance(rx, str | int):
                    raise QueryError(f"~> path elements must be strings or integers, got {_show(rx)}")
                if isinstance(rx, int):
                    parts.append(f"({r.sql} -> {i}) = {self.params.add(str(rx), '::jsonb')}")
                else:
                    parts.append(f"({r.sql} ->> {i}) ~ {self.params.add(rx)}")
            return "(" + " AND ".join(parts) + ")"
        raise QueryError(f"{_show(op)} is not a valid operator")

    def _in(self, entity: E.Entity, fields, sub) -> str:
        names = fields if isinstance(fields, list) and fields and fields[0] not in ("fact", "parameter") else [fields]
        if not names:
            raise QueryError("'in' needs at least one field")
        resolved = [self.resolve(entity, f) for f in names]
        if not isinstance(sub, list) or not sub or not isinstance(sub[0], str):
            raise QueryError("'in' requires an array, extract or from as its second argument")
        kind = sub[0]
        if kind == "array":
            if len(sub) != 2 or not isinstance(sub[1], list):
                raise QueryError("'array' takes exactly one list of values")
            if len(resolved) != 1:
                raise QueryError("'in' with an array takes exactly one field")
            if not sub[1]:
                return "FALSE"
            if len(sub[1]) > 10_000:
                raise QueryError("'array' is limited to 10000 values")
            return "(" + " OR ".join(self._eq(resolved[0], v) for v in sub[1]) + ")"
        if kind == "extract":
            if len(sub) < 2:
                raise QueryError("'extract' needs fields")
            sql, width = self._legacy_extract(sub)
        elif kind == "from":
            sql, width = self._from(sub, mode="columns")
        else:
            raise QueryError(f"'in' does not accept {_show(kind)}; use array, extract or from")
        if width != len(resolved):
            raise QueryError(f"'in' compares {len(resolved)} field(s) with {width} extracted field(s)")
        lhs = ", ".join(r.sql for r in resolved)
        return f"(({lhs}) IN ({sql}))"

    def _legacy_extract(self, node) -> tuple[str, int]:
        # ["extract", fields, ["select_<entity>", query?, paging...]]
        if len(node) != 3:
            raise QueryError("'extract' inside 'in' takes fields and a select_<entity> subquery")
        fields = node[1] if isinstance(node[1], list) else [node[1]]
        sel = node[2]
        if not (isinstance(sel, list) and sel and isinstance(sel[0], str) and sel[0].startswith("select_")):
            raise QueryError("'extract' inside 'in' needs a select_<entity> subquery")
        target = entity_named(sel[0][len("select_") :])
        query = sel[1] if len(sel) > 1 else None
        paging = self._paging_clauses(sel[2:])
        return self.select(target, fields, query, paging=paging, mode="columns"), len(fields)

    def _paging_clauses(self, clauses) -> Paging:
        paging = Paging()
        for clause in clauses:
            if not isinstance(clause, list) or not clause:
                raise QueryError(f"{_show(clause)} is not a valid paging clause")
            kind = clause[0]
            if kind in ("limit", "offset"):
                if len(clause) != 2:
                    raise QueryError(f"'{kind}' takes one integer")
                setattr(paging, kind, check_count(kind, clause[1]))
            elif kind == "order_by":
                if len(clause) != 2 or not isinstance(clause[1], list):
                    raise QueryError("'order_by' takes a list of fields")
                for item in clause[1]:
                    if isinstance(item, str):
                        paging.order_by.append((item, False))
                    elif (
                        isinstance(item, list)
                        and len(item) == 2
                        and isinstance(item[0], str)
                        and item[1] in ("asc", "desc")
                    ):
                        paging.order_by.append((item[0], item[1] == "desc"))
                    else:
                        raise QueryError(f"{_show(item)} is not a valid order_by entry")
            else:
                raise QueryError(f"{_show(kind)} is not a valid paging clause")
        return paging

    def _from(self, node, *, mode: str, paging: Paging | None = None):
        if len(node) < 2:
            raise QueryError("'from' needs an entity")
        entity = entity_named(node[1])
        rest = node[2:]
        query = None
        if rest and isinstance(rest[0], list) and rest[0] and rest[0][0] not in ("limit", "offset", "order_by"):
            query, rest = rest[0], rest[1:]
        inner = self._paging_clauses(rest)
        if paging is not None:
            inner = merge_paging(inner, paging)
        fields = None
        group_by = None
        if isinstance(query, list) and query and query[0] == "extract":
            fields, query, group_by = self._extract_parts(query)
        if mode == "columns":
            if fields is None:
                raise QueryError("'from' inside 'in' needs an extract")
            return self.select(entity, fields, query, group_by=group_by, paging=inner, mode="columns"), len(fields)
        return entity, fields, query, group_by, inner

    def _extract_parts(self, node):
        if len(node) < 2 or len(node) > 4:
            raise QueryError("'extract' takes fields, an optional query and an optional group_by")
        fields = node[1] if isinstance(node[1], list) and (not node[1] or node[1][0] != "function") else [node[1]]
        if not fields:
            raise QueryError("'extract' needs at least one field")
        query, group_by = None, None
        for extra in node[2:]:
            if isinstance(extra, list) and extra and extra[0] == "group_by":
                group_by = extra[1:]
                if not group_by:
                    raise QueryError("'group_by' needs at least one field")
            elif query is None:
                query = extra
            else:
                raise QueryError("'extract' takes a single query")
        return fields, query, group_by

    # whole selects

    def select(
        self,
        entity: E.Entity,
        fields: list | None,
        query,
        *,
        group_by: list | None = None,
        paging: Paging | None = None,
        mode: str = "json",
        extra_where: list[str] | None = None,
    ) -> str:
        """mode ``json``: one JSON text per row; ``columns``: the bare field values (for ``in``);
        ``count``: for totals, returns ``(rows_sql, count_sql)`` via ``select_with_count``."""
        rows, _count = self.select_with_count(
            entity, fields, query, group_by=group_by, paging=paging, mode=mode, extra_where=extra_where
        )
        return rows

    def select_with_count(
        self, entity, fields, query, *, group_by=None, paging=None, mode="json", extra_where=None
    ) -> tuple[str, str]:
        paging = paging or Paging()
        where: list[str] = list(entity.where)
        where.extend(extra_where or [])
        from_sql = self._source(entity, query, where)
        if query is not None:
            if isinstance(query, list) and query and query[0] == "extract":
                raise QueryError("'extract' must be the outermost term of a query")
            where.append(self.condition(entity, query))
        active = (
            bool(entity.active_sql) and (self.root or entity.endpoint_active) and not mentions(query, {"node_state"})
        )
        if entity.has_report_type and not mentions(query, {"type"}):
            where.append("r.type = 'agent'")
        if entity.has_history and not mentions(query, {"valid_from", "valid_to", "at"}):
            where.append("c.valid_to IS NULL")

        select_items, group_sql, aggregate = self._projection(entity, fields, group_by, mode)
        if (
            entity.name == "resources"
            and mode == "json"
            and fields == [["function", "count"]]
            and not group_by
            and fields_used(query) <= CATALOG_LEVEL_FIELDS
        ):
            # Counting resources of whole catalogs: add up their resource counts.
            from_sql = "inventory_catalog c JOIN inventory_node n ON n.id = c.node_id"
            select_items = "json_build_object('count', coalesce(sum(c.resource_count), 0))::text AS row"
        order_sql = ""
        if paging.order_by:
            allowed = self._orderable(entity, fields, group_by, aggregate)
            order = []
            for name, desc in paging.order_by:
                if name not in allowed:
                    raise QueryError(
                        f"Unrecognized column '{name}' specified in :order_by; allowed fields are "
                        + ", ".join(sorted(allowed))
                    )
                order.append(f"{allowed[name]} {'DESC' if desc else 'ASC'} NULLS {'FIRST' if desc else 'LAST'}")
            order_sql = " ORDER BY " + ", ".join(order)
        elif entity.scalar_output and mode == "json":
            order_sql = f" ORDER BY {entity.fields[entity.scalar_output].sql}"
        used = " ".join([select_items, *where, group_sql, order_sql])
        if E.EVENT_REPORT_JOIN in from_sql and not _REPORT_COLUMN.search(used):
            # Events whose report row is not read: every event's report exists (an event is
            # stored with its report and deleted before it), so the join filters nothing.
            from_sql = from_sql.replace(E.EVENT_REPORT_JOIN, "", 1)
        join = E.NODE_JOIN.search(from_sql)
        if join and not _NODE_COLUMN.search(used):
            # Nothing reads the node row: skip the join. Every row of these tables has its node
            # (foreign keys; reports and events are deleted with their node), so it filters
            # nothing but inactive nodes, which the few inactive nodes' ids exclude instead.
            from_sql = from_sql[: join.start()] + from_sql[join.end() :]
            if active and join.group(1) == "fs.node_id":
                where.append("fs.node_active")  # kept by triggers (migration 0016)
            elif active:
                where.append(
                    "NOT EXISTS (SELECT 1 FROM inventory_node xn WHERE xn.id = "
                    f"{join.group(1)} AND (xn.deactivated IS NOT NULL OR xn.expired IS NOT NULL))"
                )
        elif active:
            where.append(entity.active_sql)
        tail = ""
        if where:
            tail += " WHERE " + " AND ".join(where)
        if group_sql:
            tail += " GROUP BY " + group_sql
        sql = f"SELECT {select_items} FROM {from_sql}{tail}"
        count_sql = f"SELECT count(*) FROM ({sql}) AS total"
        sql += order_sql
        if paging.limit is not None:
            sql += f" LIMIT {self.params.add(paging.limit)}"
        if paging.offset is not None:
            sql += f" OFFSET {self.params.add(paging.offset)}"
        return sql, count_sql

    def _orderable(self, entity, fields, group_by, aggregate) -> dict[str, str]:
        if fields is None or not aggregate:
            names = [n for n, f in entity.fields.items() if f.queryable and f.type not in ("object",)]
            return {n: entity.fields[n].sql for n in names}
        allowed = {}
        for g in group_by or []:
            if isinstance(g, str):
                allowed[g] = self.resolve(entity, g).sql
        for f in fields:
            if isinstance(f, list) and len(f) >= 2 and f[0] == "function":
                allowed[f[1]] = f'"{f[1]}"' if f[1] in FUNCTIONS else None
        return {k: v for k, v in allowed.items() if v}

    def _projection(self, entity: E.Entity, fields, group_by, mode):
        aggregate = False
        items: list[tuple[str, str]] = []  # (key, sql)
        if fields is None:
            if mode == "columns":
                raise QueryError("a subquery needs an extract")
            if entity.scalar_output:
                return f"{entity.fields[entity.scalar_output].sql} AS row", "", False
            items = [(n, entity.fields[n].output_sql()) for n in entity.output_fields()]
        else:
            for spec in fields:
                if isinstance(spec, list) and spec and spec[0] == "function":
                    key, sql = self._function(entity, spec)
                    aggregate = aggregate or key != "to_string"
                    items.append((key, sql))
                else:
                    if isinstance(spec, list):
                        raise QueryError(f"{_show(spec)} is not a valid extract field")
                    r = self._output_field(entity, spec)
                    items.append((spec, r))
        group_sql = ""
        if group_by:
            group_parts = []
            for g in group_by:
                if isinstance(g, list) and g and g[0] == "function":
                    group_parts.append(self._function(entity, g)[1])
                else:
                    group_parts.append(self.resolve(entity, g, for_output=True).sql)
            group_sql = ", ".join(group_parts)
            aggregate = True
        elif aggregate and any(not (isinstance(f, list) and f and f[0] == "function") for f in fields or []):
            raise QueryError("extracting fields together with an aggregate function requires a group_by on them")
        if mode == "columns":
            return ", ".join(sql for _k, sql in items), group_sql, aggregate
        if len(items) > 50:
            raise QueryError("too many fields in extract")
        items = [(key, _field_json(entity.fields.get(key), sql)) for key, sql in items]
        return f"{json_object_sql(self.params, items)} AS row", group_sql, aggregate

    def _output_field(self, entity: E.Entity, spec) -> str:
        f = entity.fields.get(spec) if isinstance(spec, str) else None
        if f is not None:
            return f.output_sql()
        return self.resolve(entity, spec).sql

    def _function(self, entity: E.Entity, spec) -> tuple[str, str]:
        if len(spec) < 2 or spec[1] not in FUNCTIONS:
            raise QueryError(f"{_show(spec[1:2])} is not a valid function; use one of {', '.join(sorted(FUNCTIONS))}")
        name = spec[1]
        args = spec[2:]
        if name == "count":
            if len(args) > 1:
                raise QueryError("count takes at most one field")
            if not args:
                return "count", "count(*)"
            return "count", f"count({self.resolve(entity, args[0]).sql})"
        if name == "to_string":
            if len(args) != 2 or not isinstance(args[1], str):
                raise QueryError("to_string takes a field and a format string")
            r = self.resolve(entity, args[0])
            if r.type != "timestamp":
                raise QueryError("to_string is only supported on timestamp fields")
            return "to_string", f"to_char({r.sql}, {self.params.add(args[1])})"
        if len(args) != 1:
            raise QueryError(f"{name} takes exactly one field")
        r = self.resolve(entity, args[0])
        if r.type == "integer":
            return name, f"{name}({r.sql})"
        if r.type == "json":
            return name, f"{name}(CASE WHEN jsonb_typeof({r.sql}) = 'number' THEN ({r.sql})::numeric END)"
        if r.type == "timestamp" and name in ("min", "max"):
            return name, E.ts(f"{name}({r.sql})")
        raise QueryError(f"{name} is not supported on field '{r.name}'")

    # Entity-specific sources chosen from the shape of the query.

    def _source(self, entity: E.Entity, query, where: list[str]) -> str:
        conjuncts = top_conjuncts(query)
        if entity.name == "facts":
            names = pinned_values(conjuncts, "name")
            if names:
                p = self.params.add(names, "::text[]")
                where.append("f.value IS NOT NULL")
                values = pinned_values(conjuncts, "value", kind=str | int | float | bool)
                if len(names) == 1 and values and len(values) == 1:
                    # facts/<name>/<value>: let the GIN index find the factsets first.
                    hint = self.containment(("facts", names), values[0])
                    if hint:
                        where.append(hint)
                return (
                    "inventory_factset fs JOIN inventory_node n ON n.id = fs.node_id "
                    f"CROSS JOIN LATERAL (SELECT k AS name, coalesce(fs.volatile -> k, fs.stable -> k) AS value "
                    f"FROM unnest({p}) AS k) AS f"
                )
        if entity.name == "fact_contents":
            paths = pinned_values(conjuncts, "path", kind=list)
            if paths and len(paths) == 1 and all(isinstance(x, str | int) for x in paths[0]):
                path = paths[0]
                pj = self.params.add(orjson.dumps(path).decode(), "::jsonb")
                where.append("fc.value IS NOT NULL AND jsonb_typeof(fc.value) NOT IN ('object', 'array')")
                values = pinned_values(conjuncts, "value", kind=str | int | float | bool)
                if values and len(values) == 1 and all(isinstance(x, str) for x in path):
                    hint = self.containment(("facts", path), values[0])
                    if hint:
                        where.append(hint)
                return (
                    "inventory_factset fs JOIN inventory_node n ON n.id = fs.node_id "
                    f"CROSS JOIN LATERAL (SELECT {pj} AS path, "
                    f"{facts_path_sql(self.params, [str(x) for x in path])} AS value) AS fc"
                )
            names = pinned_values(conjuncts, "name")
            if names:
                p = self.params.add(names, "::text[]")
                return (
                    "inventory_factset fs JOIN inventory_node n ON n.id = fs.node_id "
                    "CROSS JOIN LATERAL (SELECT l.path, l.value FROM unnest("
                    f"{p}) AS k, stagehand_fact_leaves(jsonb_strip_nulls(jsonb_build_object(k, "
                    "coalesce(fs.volatile -> k, fs.stable -> k)))) AS l) AS fc"
                )
        if entity.name == "resources":
            for c in conjuncts:
                if (
                    isinstance(c, list)
                    and len(c) == 3
                    and c[0] in ("=", "in", "~")
                    and (c[1] in ("title", "tag", "resource") or (isinstance(c[1], list) and c[1][:1] == ["parameter"]))
                ):
                    if pinned_values(conjuncts, "type") == ["Class"]:
                        return E.CLASSES_LOOKUP_FROM
                    return E.RESOURCES_LOOKUP_FROM
        return entity.from_sql


def check_count(kind: str, value) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueryError(f"Illegal value '{value}' for :{kind}; expected an integer")
    if value < 0 or (kind == "limit" and value == 0):
        raise QueryError(
            f"Illegal value '{value}' for :{kind}; expected a {'positive' if kind == 'limit' else 'non-negative'} integer"
        )
    if value > MAX_LIMIT:
        raise QueryError(f"Illegal value '{value}' for :{kind}; must be at most {MAX_LIMIT}")
    return value


def merge_paging(inner: Paging, outer: Paging) -> Paging:
    return Paging(
        limit=outer.limit if outer.limit is not None else inner.limit,
        offset=outer.offset if outer.offset is not None else inner.offset,
        order_by=outer.order_by or inner.order_by,
    )


def top_conjuncts(query) -> list:
    if isinstance(query, list) and query and query[0] == "and":
        out = []
        for q in query[1:]:
            out.extend(top_conjuncts(q))
        return out
    return [query] if query is not None else []


def pinned_values(conjuncts: list, fieldname: str, kind=str) -> list | None:
    """Values a conjunct pins ``fieldname`` to (``=``, ``in`` array, or ``or`` of ``=``)."""
    for c in conjuncts:
        if not isinstance(c, list) or len(c) < 2:
            continue
        if c[0] == "=" and len(c) == 3 and c[1] == fieldname and isinstance(c[2], kind):
            return [c[2]]
        if (
            c[0] == "in"
            and len(c) == 3
            and c[1] == fieldname
            and isinstance(c[2], list)
            and len(c[2]) == 2
            and c[2][0] == "array"
            and isinstance(c[2][1], list)
            and all(isinstance(v, kind) for v in c[2][1])
        ):
            return list(c[2][1]) or None
        if c[0] == "or" and len(c) > 1:
            values = []
            for d in c[1:]:
                if isinstance(d, list) and len(d) == 3 and d[0] == "=" and d[1] == fieldname and isinstance(d[2], kind):
                    values.append(d[2])
                else:
                    values = None
                    break
            if values:
                return values
    return None


_BOUNDARY = {"from", "subquery", "extract"}
# A reference to a column of the node row (alias ``n``) or of the report row (alias ``r``) in
# compiled SQL (the joins that bring them in: entities.NODE_JOIN, entities.EVENT_REPORT_JOIN).
_NODE_COLUMN = re.compile(r"(?<![\w.])n\.")
_REPORT_COLUMN = re.compile(r"(?<![\w.])r\.")
CATALOG_LEVEL_FIELDS = {
    "certname",
    "environment",
    "catalog_uuid",
    "code_id",
    "valid_from",
    "valid_to",
    "at",
    "node_state",
}


def fields_used(query) -> set:
    """Field names a condition refers to at its own level (``{"*"}`` for anything else)."""
    if query is None:
        return set()
    if not isinstance(query, list) or not query or not isinstance(query[0], str):
        return {"*"}
    op = query[0]
    if op in ("and", "or", "not"):
        out: set = set()
        for q in query[1:]:
            out |= fields_used(q)
        return out
    if op == "subquery":
        return {"certname"}
    if op == "in":
        f = query[1] if len(query) > 1 else None
        return (
            set(f)
            if isinstance(f, list) and all(isinstance(x, str) for x in f)
            else ({f} if isinstance(f, str) else {"*"})
        )
    if len(query) >= 2 and isinstance(query[1], str):
        return {query[1]}
    return {"*"}


def is_fact_condition(query) -> bool:
    """Whether a condition tests a fact (``facts.x``, ``trusted.x``, ``["fact", x]``) at its own level."""
    if not isinstance(query, list) or len(query) < 2:
        return False
    if query[0] in ("and", "or", "not"):
        return any(is_fact_condition(q) for q in query[1:])
    f = query[1]
    return (isinstance(f, list) and f[:1] == ["fact"]) or (isinstance(f, str) and f.startswith(("facts.", "trusted.")))


def mentions(query, names: set[str]) -> bool:
    """Whether ``query`` (not counting its subqueries) refers to one of the fields ``names``."""
    if not isinstance(query, list) or not query:
        return False
    op = query[0]
    if not isinstance(op, str) or op in _BOUNDARY or op.startswith("select_"):
        return False
    if op in ("and", "or", "not"):
        return any(mentions(q, names) for q in query[1:])
    return len(query) >= 2 and isinstance(query[1], str) and query[1] in names
