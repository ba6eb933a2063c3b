"""The queryable entities: for each, its SQL source over Stagehand's schema and its fields.

Everything here is static SQL written by us; values from a query only ever reach the database as
bound parameters (see ``compiler.py``). Field types drive validation and the SQL emitted for each
operator:

* ``string``, ``integer``, ``boolean``, ``timestamp``: scalar columns;
* ``array``: a text[] column (``=`` matches any element, ``~`` any element);
* ``json``: a JSONB value (fact values, parameters) compared the PuppetDB way;
* ``path``: a JSONB array of path segments (fact paths);
* ``object``: a JSONB document that can only be reached through dotted sub-paths in filters.
"""

# SQL text here is assembled only from static snippets; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace


def ts(expr: str) -> str:
    """A timestamp rendered the way PuppetDB renders it: UTC, milliseconds, ``Z``."""
    return f"to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


@dataclass(frozen=True)
class Field:
    sql: str
    type: str
    # Returned by default (``False`` for filter-only pseudo fields).
    output: bool = True
    # A faster SQL for ``= <value>`` (``{p}`` is the placeholder); same semantics.
    eq_sql: str | None = None
    # A different output expression (JSON-ready); defaults to ``sql`` (timestamps are formatted).
    out_sql: str | None = None
    queryable: bool = True

    def output_sql(self) -> str:
        if self.out_sql:
            return self.out_sql
        if self.type == "timestamp":
            return ts(self.sql)
        return self.sql


@dataclass
class Entity:
    name: str
    from_sql: str
    fields: dict[str, Field]
    where: list[str] = field(default_factory=list)
    # SQL of "the node is active" for the implicit active-node filter (None: not node-scoped).
    active_sql: str | None = "n.deactivated IS NULL AND n.expired IS NULL"
    # Whether the entity endpoint applies the implicit active-node filter (the root endpoint
    # ``/pdb/query/v4`` always does, as PuppetDB).
    endpoint_active: bool = True
    # Dotted-path prefixes (``facts.os.family``) and the JSONB document each one walks.
    documents: dict[str, str] = field(default_factory=dict)
    # Single-string output (fact-names).
    scalar_output: str | None = None
    # Filter-only pseudo fields handled by the compiler: latest_report?, type (reports), at.
    has_latest_report: bool = False
    has_report_type: bool = False
    has_history: bool = False
    # Implicit-subquery join keys to other entities: {other: (my fields, their fields)}.
    joins: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)

    def output_fields(self) -> list[str]:
        return [name for name, f in self.fields.items() if f.output]


ENV = "(SELECT name FROM inventory_environment WHERE id = {col})"
ENV_EQ = "{col} = (SELECT id FROM inventory_environment WHERE name = {{p}})"
PRODUCER = "(SELECT name FROM inventory_producer WHERE id = {col})"
PRODUCER_EQ = "{col} = (SELECT id FROM inventory_producer WHERE name = {{p}})"
NODE_EQ = "{col} = (SELECT id FROM inventory_node WHERE certname = {{p}})"
FACTS_DOC = "(fs.stable || fs.volatile)"
# The inner join that brings the node row (alias ``n``) into an entity's source; the group is the
# row's node id column.
NODE_JOIN = re.compile(r"(?<!LEFT) JOIN inventory_node n ON n\.id = (\w+\.node_id)(?= |$)")
# The join from an event to its report (also in the distinct_resources source, distinct.py).
EVENT_REPORT_JOIN = " JOIN reports_report r ON r.id = ev.report_id AND r.producer_timestamp = ev.report_timestamp"
# The certname on the factset row (a copy kept by the database): no node row read to output it.
FS_CERTNAME = Field("fs.certname", "string", eq_sql=NODE_EQ.format(col="fs.node_id"))


def env_field(col: str) -> Field:
    return Field(ENV.format(col=col), "string", eq_sql=ENV_EQ.format(col=col))


def producer_field(col: str) -> Field:
    return Field(PRODUCER.format(col=col), "string", eq_sql=PRODUCER_EQ.format(col=col))


CERTNAME_JOIN = (("certname",), ("certname",))

NODES = Entity(
    name="nodes",
    from_sql="inventory_node n LEFT JOIN inventory_factset fs ON fs.node_id = n.id",
    fields={
        "certname": Field("n.certname", "string"),
        "deactivated": Field("n.deactivated", "timestamp"),
        "expired": Field("n.expired", "timestamp"),
        "catalog_timestamp": Field("n.catalog_timestamp", "timestamp"),
        "facts_timestamp": Field("n.facts_timestamp", "timestamp"),
        # PuppetDB: the latest report's end_time (n.report_timestamp is its producer_timestamp).
        "report_timestamp": Field("n.latest_report_end_time", "timestamp"),
        "catalog_environment": env_field("n.catalog_environment_id"),
        "facts_environment": env_field("n.facts_environment_id"),
        "report_environment": env_field("n.report_environment_id"),
        "latest_report_status": Field("n.latest_report_status", "string"),
        "latest_report_noop": Field("n.latest_report_noop", "boolean"),
        "latest_report_noop_pending": Field("n.latest_report_noop_pending", "boolean"),
        "latest_report_hash": Field("n.latest_report_hash", "string"),
        "latest_report_job_id": Field("n.latest_report_job_id", "string"),
        "latest_report_corrective_change": Field("n.latest_report_corrective_change", "boolean"),
        "cached_catalog_status": Field("n.cached_catalog_status", "string"),
        # Stagehand extensions (filter only, so PuppetDB-shaped output is unchanged).
        "latest_report_code_id": Field("n.latest_report_code_id", "string", output=False),
        "latest_catalog_code_id": Field("n.latest_catalog_code_id", "string", output=False),
        "expires_facts": Field("n.expires_facts", "boolean", output=False),
        "expires_facts_updated": Field("n.expires_facts_updated", "timestamp", output=False),
    },
    documents={"facts": FACTS_DOC, "trusted": f"({FACTS_DOC} -> 'trusted')"},
)

ENVIRONMENTS = Entity(
    name="environments",
    from_sql="inventory_environment env",
    fields={"name": Field("env.name", "string")},
    active_sql=None,
)

PRODUCERS = Entity(
    name="producers",
    from_sql="inventory_producer prod",
    fields={"name": Field("prod.name", "string")},
    active_sql=None,
)

FACTSETS = Entity(
    name="factsets",
    from_sql="inventory_factset fs JOIN inventory_node n ON n.id = fs.node_id",
    fields={
        "certname": FS_CERTNAME,
        "environment": env_field("fs.environment_id"),
        "timestamp": Field("fs.timestamp", "timestamp"),
        "producer_timestamp": Field("fs.producer_timestamp", "timestamp"),
        "producer": producer_field("fs.producer_id"),
        "hash": Field("fs.hash", "string"),
        "facts": Field(
            FACTS_DOC,
            "object",
            out_sql=(
                "json_build_object('href', '/pdb/query/v4/factsets/' || fs.certname || '/facts', 'data', "
                f"(SELECT coalesce(json_agg(json_build_object('name', k, 'value', v)), '[]') "
                f"FROM jsonb_each({FACTS_DOC}) AS e(k, v)))"
            ),
            queryable=False,
        ),
    },
    documents={"facts": FACTS_DOC, "trusted": f"({FACTS_DOC} -> 'trusted')"},
)

# The generic facts source: one row per top-level fact. The compiler swaps the lateral for a
# direct lookup when the query pins the fact name (``name = "x"``), see ``compiler.facts_source``.
FACTS_FROM = (
    "inventory_factset fs JOIN inventory_node n ON n.id = fs.node_id "
    f"CROSS JOIN LATERAL jsonb_each({FACTS_DOC}) AS f(name, value)"
)
FACTS = Entity(
    name="facts",
    from_sql=FACTS_FROM,
    fields={
        "certname": FS_CERTNAME,
        "name": Field("f.name", "string"),
        "value": Field("f.value", "json"),
        "environment": env_field("fs.environment_id"),
    },
)

FACT_CONTENTS_FROM = (
    "inventory_factset fs JOIN inventory_node n ON n.id = fs.node_id "
    f"CROSS JOIN LATERAL stagehand_fact_leaves({FACTS_DOC}) AS fc(path, value)"
)
FACT_CONTENTS = Entity(
    name="fact_contents",
    from_sql=FACT_CONTENTS_FROM,
    fields={
        "certname": FS_CERTNAME,
        "environment": env_field("fs.environment_id"),
        "name": Field("(fc.path ->> 0)", "string"),
        "path": Field("fc.path", "path"),
        "value": Field("fc.value", "json"),
    },
)

FACT_NAMES = Entity(
    name="fact_names",
    from_sql="(SELECT DISTINCT name FROM inventory_factpath) fnm",
    fields={"name": Field("fnm.name", "string")},
    active_sql=None,
    scalar_output="name",
)

FACT_PATHS = Entity(
    name="fact_paths",
    from_sql="inventory_factpath fp",
    # PuppetDB lists the paths of leaf values only.
    where=["fp.value_type NOT IN ('hash', 'array')"],
    fields={
        "path": Field("fp.path_key::jsonb", "path"),
        "type": Field("fp.value_type", "string"),
        "depth": Field("(fp.depth)::int", "integer", output=False),
        "name": Field("fp.name", "string"),
    },
    active_sql=None,
)

INVENTORY = Entity(
    name="inventory",
    from_sql="inventory_factset fs JOIN inventory_node n ON n.id = fs.node_id",
    fields={
        "certname": FS_CERTNAME,
        "timestamp": Field("fs.timestamp", "timestamp"),
        "environment": env_field("fs.environment_id"),
        "facts": Field(FACTS_DOC, "object"),
        "trusted": Field(f"coalesce({FACTS_DOC} -> 'trusted', '{{}}'::jsonb)", "object"),
    },
    documents={"facts": FACTS_DOC, "trusted": f"({FACTS_DOC} -> 'trusted')"},
)

CATALOG_RESOURCES_JSON = (
    "(SELECT coalesce(json_agg(json_build_object("
    "'resource', r2.resource_hash, 'type', r2.type, 'title', r2.title, "
    "'exported', r2.exported, 'tags', r2.tags, 'file', r2.file, 'line', r2.line, "
    "'parameters', r2.parameters) ORDER BY r2.type, r2.title), '[]') "
    "FROM inventory_resourceset rs2 CROSS JOIN LATERAL unnest(rs2.resource_ids) AS u2(rid) "
    "JOIN inventory_resource r2 ON r2.id = u2.rid WHERE rs2.id = c.resource_set_id)"
)
CATALOG_EDGES_JSON = (
    "(SELECT coalesce(json_agg(json_build_object("
    "'source_type', x ->> 0, 'source_title', x ->> 1, 'relationship', x ->> 2, "
    "'target_type', x ->> 3, 'target_title', x ->> 4)), '[]') "
    "FROM inventory_edgeset es2 CROSS JOIN LATERAL jsonb_array_elements(es2.edges) AS ex(x) "
    "WHERE es2.id = c.edge_set_id)"
)

CATALOGS = Entity(
    name="catalogs",
    from_sql="inventory_catalog c JOIN inventory_node n ON n.id = c.node_id",
    where=[],
    fields={
        "certname": Field("n.certname", "string", eq_sql=NODE_EQ.format(col="c.node_id")),
        "version": Field("c.version", "string"),
        "environment": env_field("c.environment_id"),
        "transaction_uuid": Field("c.transaction_uuid", "string"),
        "catalog_uuid": Field("c.catalog_uuid", "string"),
        "code_id": Field("c.code_id", "string"),
        "job_id": Field("c.job_id", "string"),
        "hash": Field("c.hash", "string"),
        "producer_timestamp": Field("c.producer_timestamp", "timestamp"),
        "producer": producer_field("c.producer_id"),
        "resources": Field(
            "NULL",
            "object",
            queryable=False,
            out_sql=(
                "json_build_object('href', '/pdb/query/v4/catalogs/' || n.certname || '/resources', "
                f"'data', {CATALOG_RESOURCES_JSON})"
            ),
        ),
        "edges": Field(
            "NULL",
            "object",
            queryable=False,
            out_sql=(
                "json_build_object('href', '/pdb/query/v4/catalogs/' || n.certname || '/edges', "
                f"'data', {CATALOG_EDGES_JSON})"
            ),
        ),
        # Stagehand catalog history (filter only): see ``compiler`` for ``at``.
        "valid_from": Field("c.valid_from", "timestamp", output=False),
        "valid_to": Field("c.valid_to", "timestamp", output=False),
    },
    has_history=True,
    # PuppetDB's /catalogs endpoint returns catalogs of inactive nodes too (the root endpoint does not).
    endpoint_active=False,
)

EDGES = Entity(
    name="edges",
    from_sql=(
        "inventory_catalog c JOIN inventory_node n ON n.id = c.node_id "
        "JOIN inventory_edgeset es ON es.id = c.edge_set_id "
        "CROSS JOIN LATERAL jsonb_array_elements(es.edges) AS ed(x)"
    ),
    fields={
        "certname": Field("n.certname", "string"),
        "relationship": Field("(ed.x ->> 2)", "string"),
        "source_type": Field("(ed.x ->> 0)", "string"),
        "source_title": Field("(ed.x ->> 1)", "string"),
        "target_type": Field("(ed.x ->> 3)", "string"),
        "target_title": Field("(ed.x ->> 4)", "string"),
        "valid_from": Field("c.valid_from", "timestamp", output=False),
        "valid_to": Field("c.valid_to", "timestamp", output=False),
    },
    has_history=True,
)

# Resources of catalogs. Two equivalent sources: expanding each catalog's resource set (good when
# the filter is on node/catalog fields), or starting from the matching resources and finding the
# sets that contain them through the GIN index (good when the filter pins type/title/tag/...).
RESOURCES_EXPAND_FROM = (
    "inventory_catalog c JOIN inventory_node n ON n.id = c.node_id "
    "JOIN inventory_resourceset rs ON rs.id = c.resource_set_id "
    "CROSS JOIN LATERAL unnest(rs.resource_ids) AS u(rid) "
    "JOIN inventory_resource r ON r.id = u.rid"
)
# Resources found first (by title, tag, hash or parameter), then the sets holding them through the
# GIN index on the sets' resource ids.
RESOURCES_LOOKUP_FROM = (
    "inventory_resource r "
    "JOIN inventory_resourceset rs ON rs.resource_ids @> ARRAY[r.id] "
    "JOIN inventory_catalog c ON c.resource_set_id = rs.id "
    "JOIN inventory_node n ON n.id = c.node_id"
)
# The same for classes (type = "Class"), through the (class, set) B-tree the database keeps from
# the sets (migration 0012): an index-only scan instead of reading every matching set row.
CLASSES_LOOKUP_FROM = (
    "inventory_resource r "
    "JOIN inventory_classmember cm ON cm.resource_id = r.id "
    "JOIN inventory_catalog c ON c.resource_set_id = cm.set_id "
    "JOIN inventory_node n ON n.id = c.node_id"
)
RESOURCE_ONLY_FIELDS = {"type", "title", "tag", "tags", "resource", "exported", "file", "line", "parameters"}
RESOURCES = Entity(
    name="resources",
    from_sql=RESOURCES_EXPAND_FROM,
    fields={
        "certname": Field("n.certname", "string"),
        "resource": Field("r.resource_hash", "string"),
        "type": Field("r.type", "string"),
        "title": Field("r.title", "string"),
        "exported": Field("r.exported", "boolean"),
        "tags": Field("r.tags", "array"),
        "tag": Field("r.tags", "array", output=False),
        "file": Field("r.file", "string"),
        "line": Field("r.line", "integer"),
        "environment": env_field("c.environment_id"),
        "parameters": Field("r.parameters", "object"),
        # Stagehand extensions (filter only): the catalog that holds the resource.
        "catalog_uuid": Field("c.catalog_uuid", "string", output=False),
        "code_id": Field("c.code_id", "string", output=False),
        "valid_from": Field("c.valid_from", "timestamp", output=False),
        "valid_to": Field("c.valid_to", "timestamp", output=False),
    },
    documents={"parameters": "r.parameters"},
    has_history=True,
)

REPORT_EVENTS_JSON = (
    "(SELECT json_agg(json_build_object("
    "'status', ev2.status, 'timestamp', ev2.timestamp, "
    "'resource_type', ev2.resource_type, 'resource_title', ev2.resource_title, "
    "'property', ev2.property, 'name', ev2.name, 'new_value', ev2.new_value, 'old_value', ev2.old_value, "
    "'message', ev2.message, 'file', ev2.file, 'line', ev2.line, "
    "'containment_path', ev2.containment_path, 'containing_class', ev2.containing_class, "
    "'corrective_change', ev2.corrective_change) ORDER BY ev2.id) "
    "FROM reports_resourceevent ev2 WHERE ev2.report_id = r.id AND ev2.report_timestamp = r.producer_timestamp)"
)

REPORTS = Entity(
    name="reports",
    from_sql="reports_report r JOIN inventory_node n ON n.id = r.node_id",
    fields={
        "hash": Field("r.hash", "string"),
        "certname": Field("r.certname", "string", eq_sql=NODE_EQ.format(col="r.node_id")),
        "environment": env_field("r.environment_id"),
        "status": Field("r.status", "string"),
        "noop": Field("r.noop", "boolean"),
        "noop_pending": Field("r.noop_pending", "boolean"),
        "puppet_version": Field("r.puppet_version", "string"),
        "report_format": Field("(r.report_format)::int", "integer"),
        "configuration_version": Field("r.configuration_version", "string"),
        "start_time": Field("r.start_time", "timestamp"),
        "end_time": Field("r.end_time", "timestamp"),
        "producer_timestamp": Field("r.producer_timestamp", "timestamp"),
        "receive_time": Field("r.receive_time", "timestamp"),
        "producer": producer_field("r.producer_id"),
        "transaction_uuid": Field("r.transaction_uuid", "string"),
        "catalog_uuid": Field("r.catalog_uuid", "string"),
        "code_id": Field("r.code_id", "string"),
        "job_id": Field("r.job_id", "string"),
        "cached_catalog_status": Field("r.cached_catalog_status", "string"),
        "corrective_change": Field("r.corrective_change", "boolean"),
        "type": Field("r.type", "string"),
        "resource_events": Field(
            "NULL",
            "object",
            queryable=False,
            out_sql=(
                "json_build_object('href', '/pdb/query/v4/reports/' || r.hash || '/events', "
                f"'data', {REPORT_EVENTS_JSON})"
            ),
        ),
        "metrics": Field(
            "NULL",
            "object",
            queryable=False,
            out_sql="json_build_object('href', '/pdb/query/v4/reports/' || r.hash || '/metrics', 'data', r.metrics)",
        ),
        "logs": Field(
            "NULL",
            "object",
            queryable=False,
            out_sql="json_build_object('href', '/pdb/query/v4/reports/' || r.hash || '/logs', 'data', r.logs)",
        ),
    },
    has_latest_report=True,
    has_report_type=True,
    # PuppetDB's /reports endpoint returns reports of inactive nodes too (the root endpoint does not).
    endpoint_active=False,
)

EVENTS = Entity(
    name="events",
    from_sql=f"reports_resourceevent ev{EVENT_REPORT_JOIN} JOIN inventory_node n ON n.id = ev.node_id",
    fields={
        "certname": Field("ev.certname", "string", eq_sql=NODE_EQ.format(col="ev.node_id")),
        "report": Field("r.hash", "string"),
        "status": Field("ev.status", "string"),
        "timestamp": Field("ev.timestamp", "timestamp"),
        "run_start_time": Field("r.start_time", "timestamp"),
        "run_end_time": Field("r.end_time", "timestamp"),
        "report_receive_time": Field("r.receive_time", "timestamp"),
        "resource_type": Field("ev.resource_type", "string"),
        "resource_title": Field("ev.resource_title", "string"),
        "property": Field("ev.property", "string"),
        "name": Field("ev.name", "string"),
        "new_value": Field("ev.new_value", "json"),
        "old_value": Field("ev.old_value", "json"),
        "message": Field("ev.message", "string"),
        "file": Field("ev.file", "string"),
        "line": Field("ev.line", "integer"),
        "containing_class": Field("ev.containing_class", "string"),
        "containment_path": Field("ev.containment_path", "array"),
        "environment": env_field("ev.environment_id"),
        "configuration_version": Field("r.configuration_version", "string"),
        "corrective_change": Field("ev.corrective_change", "boolean"),
        # Internal (event-counts): the report's id, a cheaper key than its hash for counting
        # distinct (report, resource) pairs.
        "report_id": Field("ev.report_id", "integer", output=False, queryable=False),
    },
    has_latest_report=True,
    endpoint_active=False,
)

PACKAGES = Entity(
    name="packages",
    from_sql="inventory_package pk",
    fields={
        "package_name": Field("pk.name", "string"),
        "version": Field("pk.version", "string"),
        "provider": Field("pk.provider", "string"),
    },
    active_sql=None,
)

PACKAGE_INVENTORY = Entity(
    name="package_inventory",
    from_sql=(
        "inventory_factset fs JOIN inventory_node n ON n.id = fs.node_id "
        "CROSS JOIN LATERAL unnest(fs.package_ids) AS up(pid) JOIN inventory_package pk ON pk.id = up.pid"
    ),
    fields={
        "certname": FS_CERTNAME,
        "package_name": Field("pk.name", "string"),
        "version": Field("pk.version", "string"),
        "provider": Field("pk.provider", "string"),
    },
)

# ``include_facts_expiration=true``: nodes with the two fields PuppetDB 7 adds to the output.
# Defaults for a node that never received ``configure expiration``: true and null (the columns'
# defaults), as PuppetDB's ``coalesce(expire, true)`` and its missing ``updated``.
NODES_WITH_FACT_EXPIRATION = replace(
    NODES,
    fields={
        **NODES.fields,
        "expires_facts": Field("n.expires_facts", "boolean"),
        "expires_facts_updated": Field("n.expires_facts_updated", "timestamp"),
    },
)

# The latest ``replace catalog inputs`` of each node (PuppetDB's experimental catalog-inputs and
# catalog-input-contents). ``inputs`` is a JSONB array of [type, name] pairs; as a field it is an
# array of all those strings (PuppetDB's text[][]: ``=`` and ``~`` match any element).
INPUT_STRINGS = "ARRAY(SELECT jsonb_array_elements_text(cip.x) FROM jsonb_array_elements(ci.inputs) AS cip(x))"
CATALOG_INPUTS_FROM = "inventory_cataloginputs ci JOIN inventory_node n ON n.id = ci.node_id"
CATALOG_INPUTS_FIELDS = {
    "certname": Field("n.certname", "string", eq_sql=NODE_EQ.format(col="ci.node_id")),
    "producer_timestamp": Field("ci.producer_timestamp", "timestamp"),
    "catalog_uuid": Field("ci.catalog_uuid", "string"),
}
CATALOG_INPUTS = Entity(
    name="catalog_inputs",
    from_sql=CATALOG_INPUTS_FROM,
    fields={**CATALOG_INPUTS_FIELDS, "inputs": Field(INPUT_STRINGS, "array", out_sql="ci.inputs")},
)
CATALOG_INPUT_CONTENTS = Entity(
    name="catalog_input_contents",
    from_sql=f"{CATALOG_INPUTS_FROM} CROSS JOIN LATERAL jsonb_array_elements(ci.inputs) AS cic(x)",
    fields={
        **CATALOG_INPUTS_FIELDS,
        "type": Field("(cic.x ->> 0)", "string"),
        "name": Field("(cic.x ->> 1)", "string"),
    },
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        NODES,
        ENVIRONMENTS,
        PRODUCERS,
        FACTSETS,
        FACTS,
        FACT_CONTENTS,
        FACT_NAMES,
        FACT_PATHS,
        INVENTORY,
        CATALOGS,
        EDGES,
        RESOURCES,
        REPORTS,
        EVENTS,
        PACKAGES,
        PACKAGE_INVENTORY,
        CATALOG_INPUTS,
        CATALOG_INPUT_CONTENTS,
    )
}
# Internal (implicit subqueries on certname): the id of the row's node, read without the node row.
NODE_KEY = "node_id"
for _entity in (*ENTITIES.values(), NODES_WITH_FACT_EXPIRATION):
    if "certname" not in _entity.fields:
        continue
    _match = NODE_JOIN.search(_entity.from_sql)
    _key = "n.id" if _entity.name == "nodes" else (_match.group(1) if _match else None)
    if _key:
        _entity.fields[NODE_KEY] = Field(_key, "integer", output=False, queryable=False)

# Entity names as endpoints spell them.
ALIASES = {
    "fact-contents": "fact_contents",
    "fact-names": "fact_names",
    "fact-paths": "fact_paths",
    "package-inventory": "package_inventory",
    "catalog-inputs": "catalog_inputs",
    "catalog-input-contents": "catalog_input_contents",
}


def implicit_join(source: str, target: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The fields that relate rows of ``source`` to rows of ``target`` in an implicit subquery."""
    src, dst = ENTITIES[source], ENTITIES[target]
    if target == "environments":
        key = "environment" if "environment" in src.fields else None
        if source == "nodes":
            key = "catalog_environment"
        return ((key,), ("name",)) if key else None
    if target == "producers":
        return (("producer",), ("name",)) if "producer" in src.fields else None
    if source == "environments":
        return (("name",), ("environment",)) if "environment" in dst.fields else None
    if source == "producers":
        return (("name",), ("producer",)) if "producer" in dst.fields else None
    if source == "reports" and target == "events":
        return (("hash",), ("report",))
    if source == "events" and target == "reports":
        return (("report",), ("hash",))
    if source == "fact_paths" and target in ("facts", "fact_contents"):
        return (("name",), ("name",)) if target == "facts" else (("path",), ("path",))
    if target == "fact_paths" and source in ("facts", "fact_contents"):
        return (("name",), ("name",)) if source == "facts" else (("path",), ("path",))
    if "certname" in src.fields and "certname" in dst.fields:
        return CERTNAME_JOIN
    return None
