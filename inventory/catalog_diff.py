"""Differences between two stored catalogs (any two versions, of one node or two)."""

# SQL text here is assembled only from static snippets; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from django.db import connection

from inventory.models import Catalog

EDGE_KEYS = ("source_type", "source_title", "relationship", "target_type", "target_title")

_RESOURCES = (
    "SELECT r.type, r.title, r.parameters::text, r.tags, r.exported, r.file, r.line "
    "FROM inventory_resourceset rs CROSS JOIN LATERAL unnest(rs.resource_ids) AS u(rid) "
    "JOIN inventory_resource r ON r.id = u.rid WHERE rs.id = %s"
)


def catalog_resources(catalog: Catalog) -> dict[tuple[str, str], dict]:
    import orjson

    with connection.cursor() as cursor:
        cursor.execute(_RESOURCES, [catalog.resource_set_id])
        rows = cursor.fetchall()
    return {
        (t, title): {
            "type": t,
            "title": title,
            "parameters": orjson.loads(params),
            "tags": tags,
            "exported": exported,
            "file": file,
            "line": line,
        }
        for t, title, params, tags, exported, file, line in rows
    }


def catalog_edges(catalog: Catalog) -> set[tuple]:
    if catalog.edge_set is None:
        return set()
    return {tuple(e) for e in catalog.edge_set.edges}


def diff(old: Catalog, new: Catalog) -> dict:
    """``{added, removed, changed, edges_added, edges_removed}``; ``changed`` lists resources
    present in both with different content, with the parameters that differ."""
    a, b = catalog_resources(old), catalog_resources(new)
    changed = []
    if old.resource_set_id != new.resource_set_id:
        for key in sorted(a.keys() & b.keys()):
            ra, rb = a[key], b[key]
            if ra == rb:
                continue
            names = sorted(set(ra["parameters"]) | set(rb["parameters"]))
            changed.append(
                {
                    "type": key[0],
                    "title": key[1],
                    "parameters": {
                        n: {"old": ra["parameters"].get(n), "new": rb["parameters"].get(n)}
                        for n in names
                        if ra["parameters"].get(n) != rb["parameters"].get(n)
                    },
                    "other": {
                        f: {"old": ra[f], "new": rb[f]} for f in ("tags", "exported", "file", "line") if ra[f] != rb[f]
                    },
                }
            )
    ea, eb = catalog_edges(old), catalog_edges(new)

    def edge(e):
        return dict(zip(EDGE_KEYS, e, strict=True))

    return {
        "old": old.id,
        "new": new.id,
        "added": [b[k] for k in sorted(b.keys() - a.keys())],
        "removed": [a[k] for k in sorted(a.keys() - b.keys())],
        "changed": changed,
        "edges_added": [edge(e) for e in sorted(eb - ea)],
        "edges_removed": [edge(e) for e in sorted(ea - eb)],
    }
