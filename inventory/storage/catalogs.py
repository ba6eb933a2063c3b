"""Store a ``replace catalog`` command with history.

Resources are content-addressed (sha1 of the canonical JSON of type, title, parameters, sorted
tags, exported, file, line) and stored once for the fleet; the sorted list of a catalog's
resource hashes identifies its ``ResourceSet`` (shared by every node and version with the same
resources), the sorted edges its ``EdgeSet``. A catalog version is (resource set, edge set,
environment, code_id); the node's current ``Catalog`` row is refreshed when the version is the
same, otherwise it is closed (``valid_to``) and a new row opened.

When the node's current version or an existing resource set already has the same hash, no
resource row is touched at all; only a new set inserts resources (``INSERT ... SELECT FROM
jsonb_to_recordset ... ON CONFLICT DO NOTHING``, in hash order so concurrent workers lock in the
same order).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson

from inventory.retention import resource_gc_guard_shared
from inventory.storage.nodes import REACTIVATE_SQL, environment_id, lock_node, producer_id

_SORT = orjson.OPT_SORT_KEYS


def resource_digest(r: dict) -> bytes:
    canon = [r["type"], r["title"], r["parameters"], r["tags"], r["exported"], r["file"], r["line"]]
    return hashlib.sha1(orjson.dumps(canon, option=_SORT)).digest()


def puppetdb_resource_hash(r: dict) -> str:
    return hashlib.sha1(orjson.dumps([r["type"], r["title"], r["parameters"]], option=_SORT)).hexdigest()


def catalog_digests(cmd: dict) -> tuple[list[tuple[bytes, dict]], bytes, bytes, list]:
    """(sorted [(hash, resource)], resource-set hash, edge-set hash, sorted edges)."""
    unique = {resource_digest(r): r for r in cmd["resources"]}
    hashed = sorted(unique.items(), key=lambda pair: pair[0])
    set_hash = hashlib.sha1(b"".join(h for h, _ in hashed)).digest()
    edges = sorted(cmd["edges"])
    edge_hash = hashlib.sha1(orjson.dumps(edges)).digest()
    return hashed, set_hash, edge_hash, edges


def catalog_hash(set_hash: bytes, edge_hash: bytes, environment: str, code_id: str | None) -> str:
    return hashlib.sha1(set_hash + edge_hash + orjson.dumps([environment, code_id])).hexdigest()


def _hex_list(hashes) -> str:
    return ",".join(h.hex() for h in hashes)


def _int_array(ids) -> str:
    return "{" + ",".join(map(str, ids)) + "}"


def _resource_ids(cursor, hashed: list[tuple[bytes, dict]]) -> list[int]:
    """Ids of the resources (inserted when new). Existing ones are looked up by hash first,
    so a catalog whose resources are mostly shared sends only its new resources."""
    cursor.execute(
        "SELECT r.hash, r.id FROM inventory_resource r "
        "WHERE r.hash = ANY(ARRAY(SELECT decode(h, 'hex') FROM unnest(string_to_array(%s, ',')) AS h))",
        [_hex_list(h for h, _ in hashed)],
    )
    found = {bytes(h): i for h, i in cursor.fetchall()}
    missing = [(h, r) for h, r in hashed if h not in found]
    if missing:
        rows = [
            {
                "h": h.hex(),
                "rh": puppetdb_resource_hash(r),
                "type": r["type"],
                "title": r["title"],
                "exported": r["exported"],
                "file": r["file"],
                "line": r["line"],
                "tags": r["tags"],
                "parameters": r["parameters"],
            }
            for h, r in missing
        ]
        cursor.execute(
            "INSERT INTO inventory_resource (hash, resource_hash, type, title, exported, file, line, tags, parameters) "
            "SELECT decode(x.h, 'hex'), x.rh, x.type, x.title, x.exported, x.file, x.line, "
            "ARRAY(SELECT jsonb_array_elements_text(x.tags)), x.parameters "
            "FROM jsonb_to_recordset(%s::jsonb) AS x(h text, rh text, type text, title text, exported boolean, "
            "file text, line integer, tags jsonb, parameters jsonb) "
            "ON CONFLICT (hash) DO NOTHING RETURNING hash, id",
            [orjson.dumps(rows).decode()],
        )
        found.update((bytes(h), i) for h, i in cursor.fetchall())
        still = [h for h, _ in missing if h not in found]
        if still:  # inserted concurrently by another worker (committed after our snapshot)
            cursor.execute(
                "SELECT r.hash, r.id FROM inventory_resource r "
                "WHERE r.hash = ANY(ARRAY(SELECT decode(h, 'hex') FROM unnest(string_to_array(%s, ',')) AS h))",
                [_hex_list(still)],
            )
            found.update((bytes(h), i) for h, i in cursor.fetchall())
    ids = sorted(found[h] for h, _ in hashed if h in found)
    if len(ids) != len(hashed):
        raise RuntimeError(f"resource dedup mismatch: {len(hashed)} resources, {len(ids)} rows")
    return ids


def _resource_set_id(cursor, set_hash: bytes, hashed) -> int:
    # FOR KEY SHARE: the garbage collector (``inventory.retention``) skips a set we are about to
    # refer to; the shared GC guard keeps it from deleting resources we look up until we commit.
    cursor.execute("SELECT id FROM inventory_resourceset WHERE hash = %s FOR KEY SHARE", [set_hash])
    row = cursor.fetchone()
    if row:
        return row[0]
    resource_gc_guard_shared(cursor)
    ids = _resource_ids(cursor, hashed) if hashed else []
    cursor.execute(
        "INSERT INTO inventory_resourceset (hash, resource_ids, size) VALUES (%s, %s::bigint[], %s) "
        "ON CONFLICT (hash) DO NOTHING RETURNING id",
        [set_hash, _int_array(ids), len(ids)],
    )
    row = cursor.fetchone()
    if row is None:
        cursor.execute("SELECT id FROM inventory_resourceset WHERE hash = %s", [set_hash])
        row = cursor.fetchone()
    return row[0]


def _edge_set_id(cursor, edge_hash: bytes, edges: list) -> int | None:
    if not edges:
        return None
    cursor.execute("SELECT id FROM inventory_edgeset WHERE hash = %s FOR KEY SHARE", [edge_hash])
    row = cursor.fetchone()
    if row:
        return row[0]
    cursor.execute(
        "INSERT INTO inventory_edgeset (hash, edges, size) VALUES (%s, %s::jsonb, %s) "
        "ON CONFLICT (hash) DO NOTHING RETURNING id",
        [edge_hash, orjson.dumps(edges).decode(), len(edges)],
    )
    row = cursor.fetchone()
    if row is None:
        cursor.execute("SELECT id FROM inventory_edgeset WHERE hash = %s", [edge_hash])
        row = cursor.fetchone()
    return row[0]


def store_catalog(cursor, cmd: dict, now: dt.datetime) -> str:
    node = lock_node(cursor, cmd["certname"])
    pt = cmd["producer_timestamp"]
    if node.catalog_producer_timestamp is not None and pt < node.catalog_producer_timestamp:
        return "stale"
    env_id = environment_id(cursor, cmd["environment"])
    prod_id = producer_id(cursor, cmd["producer"])
    hashed, set_hash, edge_hash, edges = catalog_digests(cmd)
    digest = catalog_hash(set_hash, edge_hash, cmd["environment"], cmd["code_id"])
    cursor.execute(
        "SELECT id, hash, producer_timestamp FROM inventory_catalog WHERE node_id = %s AND valid_to IS NULL",
        [node.id],
    )
    current = cursor.fetchone()
    meta = [cmd["catalog_uuid"], cmd["transaction_uuid"], cmd["job_id"], cmd["version"], prod_id, pt, now]
    if current is not None and current[1] == digest:
        catalog_id = current[0]
        cursor.execute(
            "UPDATE inventory_catalog SET catalog_uuid = %s, transaction_uuid = %s, job_id = %s, version = %s, "
            "producer_id = %s, producer_timestamp = GREATEST(producer_timestamp, %s), received = %s, "
            "compiles = compiles + 1 WHERE id = %s",
            [*meta, catalog_id],
        )
        outcome = "unchanged"
    else:
        set_id = _resource_set_id(cursor, set_hash, hashed)
        edge_set_id = _edge_set_id(cursor, edge_hash, edges)
        if current is not None:
            cursor.execute(
                "UPDATE inventory_catalog SET valid_to = GREATEST(valid_from, %s) WHERE id = %s", [pt, current[0]]
            )
        cursor.execute(
            "INSERT INTO inventory_catalog (node_id, hash, catalog_uuid, transaction_uuid, job_id, version, "
            "producer_id, producer_timestamp, received, code_id, first_producer_timestamp, compiles, "
            "environment_id, resource_set_id, edge_set_id, valid_from, valid_to) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s, %s, %s, NULL) RETURNING id",
            [node.id, digest, *meta, cmd["code_id"], pt, env_id, set_id, edge_set_id, pt],
        )
        catalog_id = cursor.fetchone()[0]
        outcome = "stored"
    cursor.execute(
        "UPDATE inventory_node SET catalog_timestamp = %s, catalog_producer_timestamp = %s, "
        f"catalog_environment_id = %s, latest_catalog_id = %s, latest_catalog_code_id = %s, {REACTIVATE_SQL} "
        "WHERE id = %s",
        [now, pt, env_id, catalog_id, cmd["code_id"], pt, node.id],
    )
    return outcome


def store_catalog_inputs(cursor, cmd: dict, now: dt.datetime) -> str:
    """``replace catalog inputs`` v1: the node's latest inputs (a strictly newer producer_timestamp
    wins; without one, when it was received). As in PuppetDB an empty ``inputs`` list changes
    nothing, and storing inputs reactivates a node deactivated or expired before them."""
    if not cmd["inputs"]:
        return "unchanged"
    node = lock_node(cursor, cmd["certname"])
    pt = cmd["producer_timestamp"] or now
    cursor.execute(
        "INSERT INTO inventory_cataloginputs (node_id, catalog_uuid, producer_timestamp, received, inputs) "
        "VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT (node_id) DO UPDATE SET "
        "catalog_uuid = EXCLUDED.catalog_uuid, producer_timestamp = EXCLUDED.producer_timestamp, "
        "received = EXCLUDED.received, inputs = EXCLUDED.inputs "
        "WHERE inventory_cataloginputs.producer_timestamp < EXCLUDED.producer_timestamp",
        [node.id, cmd["catalog_uuid"], pt, now, orjson.dumps([list(x) for x in cmd["inputs"]]).decode()],
    )
    if cursor.rowcount == 0:
        return "stale"
    cursor.execute(f"UPDATE inventory_node SET {REACTIVATE_SQL} WHERE id = %s", [pt, node.id])
    return "stored"
