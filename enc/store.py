"""Database access for classification: the compiled-snapshot cache, node facts, fact storage.

The ENC request path makes one indexed read per request (``lookup``): the classification version
and the node's facts in one statement. Compiled groups are cached in process memory keyed by
version; a different version reloads the groups and the version together in one statement (one
MVCC snapshot), so an answer always comes from exactly one committed version.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime

import orjson
from django.db import connection, transaction
from django.utils import timezone

from enc.models import STATE_ID
from enc.resolver import Snapshot, compile_snapshot

# Above this many distinct top-level facts in the rules, fetch whole fact documents instead.
MAX_SUBSET_KEYS = 40

_GROUPS_SQL = """
SELECT s.version, s.changed, g.id::text, g.name, g.parent_id::text, g.rule::text, g.pinned, g.classes::text,
       g.variables::text, g.environment, g.environment_trumps
FROM enc_classificationstate s LEFT JOIN enc_nodegroup g ON TRUE
WHERE s.id = %s
"""


def load_snapshot() -> Snapshot:
    """Read every group and the version in ONE statement (one consistent snapshot) and compile."""
    with connection.cursor() as cursor:
        cursor.execute(_GROUPS_SQL, [STATE_ID])
        rows = cursor.fetchall()
    if not rows:
        raise RuntimeError("enc_classificationstate has no row; run migrations")
    version, changed = rows[0][0], rows[0][1]
    groups = [
        {
            "id": r[2],
            "name": r[3],
            "parent_id": r[4],
            "rule": orjson.loads(r[5]) if r[5] is not None else None,
            "pinned": r[6],
            "classes": orjson.loads(r[7]),
            "variables": orjson.loads(r[8]),
            "environment": r[9],
            "environment_trumps": r[10],
        }
        for r in rows
        if r[2] is not None
    ]
    snapshot = compile_snapshot(version, groups)
    snapshot.key = (version, changed)
    return snapshot


def current_key() -> tuple:
    """(version, changed): the cache key. The timestamp guards against a version number being
    reused (a database restored from a backup, a rolled-back test transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, changed FROM enc_classificationstate WHERE id = %s", [STATE_ID])
        return tuple(cursor.fetchone())


class SnapshotCache:
    """The compiled snapshot of the newest version this process has seen."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Snapshot:
        """The compiled snapshot for ``key`` (version, changed) read from the database."""
        snapshot = self._snapshot
        if snapshot is not None and snapshot.key == key:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and snapshot.key == key:
                return snapshot
            # May be newer than ``key`` (a change committed meanwhile): still one whole version.
            self._snapshot = load_snapshot()
            return self._snapshot

    def peek(self) -> Snapshot | None:
        return self._snapshot

    def clear(self) -> None:
        with self._lock:
            self._snapshot = None


cache = SnapshotCache()


# --- facts -----------------------------------------------------------------------------------


def _facts_expression(keys: tuple | None) -> tuple[str, list]:
    """SQL (over alias ``f``) yielding the node's facts as JSON text: only ``keys`` when given."""
    if keys is None or len(keys) > MAX_SUBSET_KEYS:
        return "(f.stable || f.volatile)::text", []
    if not keys:
        return "CASE WHEN f.node_id IS NULL THEN NULL ELSE '{}' END", []
    parts = []
    params: list = []
    for key in keys:
        parts.append("%s::text, COALESCE(f.volatile -> %s::text, f.stable -> %s::text)")
        params.extend([key, key, key])
    return (
        f"CASE WHEN f.node_id IS NULL THEN NULL ELSE jsonb_strip_nulls(jsonb_build_object({', '.join(parts)}))::text END",
        params,
    )


def snapshot_fact_keys(snapshot: Snapshot | None) -> tuple | None:
    """The top-level facts a snapshot's rules need (None: unknown, fetch everything)."""
    if snapshot is None:
        return None
    keys = set(snapshot.fact_keys)
    if snapshot.uses_trusted:
        keys.add("trusted")
    return tuple(sorted(keys))


def lookup(certname: str, keys: tuple | None) -> tuple[tuple, dict | None, datetime | None]:
    """One statement: (the classification key (version, changed), the node's facts (``keys``
    only) or None, the producer timestamp of the stored facts)."""
    expression, params = _facts_expression(keys)
    sql = f"""
        SELECT s.version, s.changed, {expression}, n.facts_producer_timestamp
        FROM enc_classificationstate s
        LEFT JOIN inventory_node n ON n.certname = %s
        LEFT JOIN inventory_factset f ON f.node_id = n.id
        WHERE s.id = %s
    """  # noqa: S608 - only placeholders are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, certname, STATE_ID])
        version, changed, facts, producer_ts = cursor.fetchone()
    return (version, changed), (orjson.loads(facts) if facts is not None else None), producer_ts


def node_facts(certname: str) -> dict | None:
    """All stored facts of a node (``stable || volatile``), or None for an unknown node."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (f.stable || f.volatile)::text FROM inventory_factset f "
            "JOIN inventory_node n ON n.id = f.node_id WHERE n.certname = %s",
            [certname],
        )
        row = cursor.fetchone()
    return orjson.loads(row[0]) if row else None


def known_nodes(keys: tuple | None, batch: int = 2000):
    """Every active node as ``(certname, facts, trusted)``, facts limited to ``keys``."""
    expression, params = _facts_expression(keys)
    sql = f"""
        SELECT n.certname, {expression}
        FROM inventory_node n LEFT JOIN inventory_factset f ON f.node_id = n.id
        WHERE n.deactivated IS NULL AND n.expired IS NULL
        ORDER BY n.certname
    """  # noqa: S608 - only placeholders are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(batch)
            if not rows:
                break
            for certname, text in rows:
                facts = orjson.loads(text) if text else {}
                trusted = facts.get("trusted")
                yield certname, facts, trusted if isinstance(trusted, dict) else {}


def stored_trusted(certname: str) -> dict | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(f.volatile -> 'trusted', f.stable -> 'trusted')::text FROM inventory_factset f "
            "JOIN inventory_node n ON n.id = f.node_id WHERE n.certname = %s",
            [certname],
        )
        row = cursor.fetchone()
    if not row or row[0] is None:
        return None
    value = orjson.loads(row[0])
    return value if isinstance(value, dict) else None


def facts_hash(document: dict) -> str:
    return hashlib.sha1(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()  # noqa: S324


def store_facts(
    certname: str,
    facts: dict,
    *,
    producer_timestamp: datetime,
    environment: str | None,
    producer: str | None = None,
) -> bool:
    """Store ``facts`` as the node's facts if they are newer than the stored ones (by producer
    timestamp). Keeps the Node/Factset contract: the whole document goes to ``stable`` with an
    empty ``volatile`` (a key in exactly one of the two), the node's ``facts_*`` columns follow,
    ``paths_hash`` is cleared so the next ingest refreshes FactPath. Returns whether it stored."""
    from inventory.models import Environment, Factset, Node, Producer

    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO inventory_node (certname, created, expires_facts) VALUES (%s, %s, TRUE) "
                "ON CONFLICT (certname) DO NOTHING",
                [certname, now],
            )
        node = Node.objects.select_for_update().get(certname=certname)
        if node.facts_producer_timestamp is not None and node.facts_producer_timestamp >= producer_timestamp:
            return False
        env = None
        if environment:
            env, _ = Environment.objects.get_or_create(name=environment)
        prod = None
        if producer:
            prod, _ = Producer.objects.get_or_create(name=producer)
        digest = facts_hash(facts)
        updated = Factset.objects.filter(node=node).update(
            environment=env,
            producer=prod,
            timestamp=now,
            producer_timestamp=producer_timestamp,
            hash=digest,
            stable=facts,
            volatile={},
            paths_hash="",
        )
        if not updated:
            Factset.objects.create(
                node=node,
                environment=env,
                producer=prod,
                timestamp=now,
                producer_timestamp=producer_timestamp,
                hash=digest,
                stable=facts,
                volatile={},
            )
        node.facts_timestamp = now
        node.facts_producer_timestamp = producer_timestamp
        node.facts_environment = env
        node.deactivated = None
        node.expired = None
        node.save(
            update_fields=["facts_timestamp", "facts_producer_timestamp", "facts_environment", "deactivated", "expired"]
        )
    return True
