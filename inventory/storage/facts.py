"""Store a ``replace facts`` command: one JSONB document per node split into ``stable`` and
``volatile`` parts, fact paths and packages deduplicated fleet-wide.

A fact that changes moves to ``volatile`` (rewriting ``stable`` once); after that, runs that change
only already-volatile facts rewrite only the small ``volatile`` document, and PostgreSQL keeps
the large TOASTed ``stable`` value as it is. An identical factset only refreshes timestamps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import orjson

from inventory.storage.nodes import REACTIVATE_SQL, environment_id, lock_node, producer_id

# Rewrite everything into ``stable`` when ``volatile`` holds more than this share of the facts.
VOLATILE_MAX_SHARE = 0.5
MAX_PATHS_PER_COMMAND = 20_000

# (path_key, type) pairs this process knows are in inventory_factpath. Only ever used to skip
# the upsert of a path row, so a stale entry (a path the fact-path GC deleted since) costs
# nothing but a missing path row until the next change of that fact after the entry expired:
# the whole set is forgotten every KNOWN_PATHS_TTL seconds, well inside the GC's grace period
# (retention.gc_fact_paths deletes a path only after it was unused for FACT_PATH_GC_GRACE).
_known_paths: set[tuple[str, str]] = set()
_KNOWN_PATHS_MAX = 500_000
KNOWN_PATHS_TTL = 300.0
_known_since = time.monotonic()


def forget_paths() -> None:
    global _known_since
    _known_paths.clear()
    _known_since = time.monotonic()


def facts_hash(values: dict) -> str:
    return hashlib.sha1(orjson.dumps(values, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _value_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "hash"
    if isinstance(value, list):
        return "array"
    return "string"


def fact_paths(facts: dict, limit: int = MAX_PATHS_PER_COMMAND) -> list[tuple[list, str]]:
    """Every (path, type) of ``facts``: nested hashes and arrays included, array indexes as ints."""
    out: list[tuple[list, str]] = []
    stack: list[tuple[list, object]] = [([name], value) for name, value in facts.items()]
    while stack and len(out) < limit:
        path, value = stack.pop()
        out.append((path, _value_type(value)))
        if isinstance(value, dict):
            stack.extend((path + [k], v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((path + [i], v) for i, v in enumerate(value))
    return out


# Insert path rows (``x``: JSON records from :func:`path_row`) and clear the GC's mark on those
# that exist. ON CONFLICT DO NOTHING takes no row lock, and the UPDATE touches only marked rows
# (a partial index): concurrent ingest never waits on the shared path rows. A sweep deleting a
# marked path waits for the UPDATE's row lock and re-checks the mark; a path lost to a sweep
# racing the INSERT is written back by the next GC run, which inserts every live path it finds.
UPSERT_PATHS_SQL = """
WITH x AS (SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(k text, p jsonb, n text, d int, t text)),
inserted AS (
    INSERT INTO inventory_factpath (path, path_key, name, depth, value_type, last_seen)
    SELECT ARRAY(SELECT jsonb_array_elements_text(x.p)), x.k, x.n, x.d, x.t, %(now)s FROM x
    ON CONFLICT (path_key, value_type) DO NOTHING
)
UPDATE inventory_factpath fp SET unused_since = NULL
FROM x WHERE fp.unused_since IS NOT NULL AND fp.path_key = x.k AND fp.value_type = x.t
"""


def path_row(path: list, vtype: str, key: str | None = None) -> dict:
    """One record for :data:`UPSERT_PATHS_SQL`; ``key`` is ``path``'s JSON encoding (path_key)."""
    key = key if key is not None else orjson.dumps(path).decode()
    return {"k": key, "p": [str(s) for s in path], "n": str(path[0]), "d": len(path) - 1, "t": vtype}


def upsert_paths(cursor, rows: list[dict], now: dt.datetime) -> None:
    rows.sort(key=lambda r: (r["k"], r["t"]))  # one lock order for the marked rows it updates
    cursor.execute(UPSERT_PATHS_SQL, {"rows": orjson.dumps(rows).decode(), "now": now})


def _store_paths(cursor, facts: dict, now: dt.datetime) -> None:
    if len(_known_paths) > _KNOWN_PATHS_MAX or time.monotonic() - _known_since > KNOWN_PATHS_TTL:
        forget_paths()
    rows = []
    for path, vtype in fact_paths(facts):
        key = orjson.dumps(path).decode()
        if (key, vtype) not in _known_paths:
            rows.append(path_row(path, vtype, key))
    if not rows:
        return
    upsert_paths(cursor, rows, now)
    _known_paths.update((r["k"], r["t"]) for r in rows)


def _package_ids(cursor, inventory: list[list[str]]) -> list[int]:
    rows = sorted({tuple(p) for p in inventory})
    payload = orjson.dumps([{"n": n, "v": v, "p": p} for n, v, p in rows]).decode()
    cursor.execute(
        "INSERT INTO inventory_package (name, version, provider) "
        "SELECT x.n, x.v, x.p FROM jsonb_to_recordset(%s::jsonb) AS x(n text, v text, p text) "
        "ON CONFLICT (name, version, provider) DO NOTHING",
        [payload],
    )
    cursor.execute(
        "SELECT p.id FROM inventory_package p JOIN jsonb_to_recordset(%s::jsonb) AS x(n text, v text, p text) "
        "ON p.name = x.n AND p.version = x.v AND p.provider = x.p ORDER BY p.id",
        [payload],
    )
    return [r[0] for r in cursor.fetchall()]


def split(old_stable: dict, old_volatile: dict, new: dict) -> tuple[dict | None, dict]:
    """New (stable, volatile) documents. ``stable`` is None when the stored one is kept as is."""

    sentinel = object()

    def old_value(k):
        return old_volatile[k] if k in old_volatile else old_stable.get(k, sentinel)

    changed = set()
    for k, v in new.items():
        old = old_value(k)
        if old is sentinel or type(old) is not type(v) or old != v:
            changed.add(k)
    removed_from_stable = any(k not in new for k in old_stable)
    moved_from_stable = any(k in old_stable for k in changed)
    new_volatile_keys = (set(old_volatile) & set(new)) | changed
    if len(new_volatile_keys) > VOLATILE_MAX_SHARE * max(len(new), 1):
        return dict(new), {}
    volatile = {k: new[k] for k in new_volatile_keys}
    if not removed_from_stable and not moved_from_stable:
        return None, volatile
    stable = {k: v for k, v in new.items() if k not in new_volatile_keys}
    return stable, volatile


def store_facts(cursor, cmd: dict, now: dt.datetime) -> str:
    node = lock_node(cursor, cmd["certname"])
    pt = cmd["producer_timestamp"]
    if node.facts_producer_timestamp is not None and pt < node.facts_producer_timestamp:
        return "stale"
    env_id = environment_id(cursor, cmd["environment"])
    prod_id = producer_id(cursor, cmd["producer"])
    values = cmd["values"]
    digest = facts_hash(values)
    cursor.execute(
        "SELECT hash, stable::text, volatile::text, package_hash FROM inventory_factset WHERE node_id = %s",
        [node.id],
    )
    row = cursor.fetchone()
    inventory = cmd.get("package_inventory")
    package_hash = hashlib.sha1(orjson.dumps(sorted(map(tuple, inventory)))).hexdigest() if inventory else ""
    outcome = "stored"
    if row is None:
        package_ids = _package_ids(cursor, inventory) if inventory else []
        _store_paths(cursor, values, now)
        cursor.execute(
            "INSERT INTO inventory_factset (node_id, environment_id, producer_id, timestamp, producer_timestamp, "
            "hash, stable, volatile, paths_hash, package_hash, package_ids) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, '{}'::jsonb, %s, %s, %s)",
            [
                node.id,
                env_id,
                prod_id,
                now,
                pt,
                digest,
                orjson.dumps(values).decode(),
                digest,
                package_hash,
                package_ids,
            ],
        )
    else:
        old_hash, old_stable_text, old_volatile_text, old_package_hash = row
        sets = ["environment_id = %s", "producer_id = %s", "timestamp = %s", "producer_timestamp = %s"]
        params: list = [env_id, prod_id, now, pt]
        if old_hash == digest:
            outcome = "unchanged"
        else:
            stable, volatile = split(orjson.loads(old_stable_text), orjson.loads(old_volatile_text), values)
            sets += ["hash = %s", "volatile = %s::jsonb"]
            params += [digest, orjson.dumps(volatile).decode()]
            if stable is not None:
                sets.append("stable = %s::jsonb")
                params.append(orjson.dumps(stable).decode())
                _store_paths(cursor, values, now)
                sets.append("paths_hash = %s")
                params.append(digest)
            else:
                _store_paths(cursor, volatile, now)
        if package_hash != old_package_hash:
            sets += ["package_hash = %s", "package_ids = %s"]
            params += [package_hash, _package_ids(cursor, inventory) if inventory else []]
        cursor.execute(f"UPDATE inventory_factset SET {', '.join(sets)} WHERE node_id = %s", [*params, node.id])
    cursor.execute(
        f"UPDATE inventory_node SET facts_timestamp = %s, facts_producer_timestamp = %s, facts_environment_id = %s, "
        f"{REACTIVATE_SQL} WHERE id = %s",
        [now, pt, env_id, pt, node.id],
    )
    return outcome
