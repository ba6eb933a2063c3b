"""Database access for classification: the compiled-snapshot cache, node facts, fact storage.

The ENC request path makes one indexed read per request (``lookup``, a server-side prepared
statement): the classification version, the token, the identity of the node's stored facts and,
only when the caller does not hold them already (``enc.answers``), the facts. Compiled groups are cached in process memory keyed by
version; a different version reloads the groups and the version together in one statement (one
MVCC snapshot), so an answer always comes from exactly one committed version.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import datetime

import orjson
import psycopg
from django.db import NotSupportedError, connection, transaction
from django.utils import timezone
from psycopg import sql

from config.db import retry_if_disconnected
from enc.models import STATE_ID
from enc.resolver import Snapshot, compile_snapshot
from inventory.storage.facts import facts_hash

# Above this many distinct top-level facts in the rules, fetch whole fact documents instead.
MAX_SUBSET_KEYS = 40

_GROUPS_SQL = """
SELECT s.version, s.changed::text, g.id::text, g.name, g.parent_id::text, g.rule::text, g.pinned, g.classes::text,
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
    """(version, changed): the cache key. The timestamp (as text: exact, and cheaper to read on
    every request than a datetime) guards against a version number being reused (a database
    restored from a backup, a rolled-back test transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, changed::text FROM enc_classificationstate WHERE id = %s", [STATE_ID])
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


def _facts_expression(keys: tuple | None, alias: str = "d") -> tuple[str, list]:
    """SQL over ``<alias>.doc`` (the merged fact document, NULL for a node without facts) giving
    the facts as JSON text: only the top-level ``keys`` when given."""
    if keys is None or len(keys) > MAX_SUBSET_KEYS:
        return f"{alias}.doc::text", []
    if not keys:
        return f"CASE WHEN {alias}.doc IS NULL THEN NULL ELSE '{{}}' END", []
    parts = []
    params: list = []
    for key in keys:
        parts.append(f"%s::text, {alias}.doc -> %s::text")
        params.extend([key, key])
    return (
        f"CASE WHEN {alias}.doc IS NULL THEN NULL ELSE "
        f"jsonb_strip_nulls(jsonb_build_object({', '.join(parts)}))::text END",
        params,
    )


# ``OFFSET 0`` keeps the planner from inlining the subquery, so the (TOASTed) fact document is
# detoasted and merged once per row rather than once per extracted key.
_DOC_JOIN = (
    "LEFT JOIN LATERAL (SELECT f.stable || f.volatile AS doc FROM inventory_factset f "
    "WHERE f.node_id = n.id OFFSET 0) d ON TRUE"
)


def snapshot_fact_keys(snapshot: Snapshot | None) -> tuple | None:
    """The top-level facts a snapshot's rules need (None: unknown, fetch everything)."""
    if snapshot is None:
        return None
    keys = set(snapshot.fact_keys)
    if snapshot.uses_trusted:
        keys.add("trusted")
    return tuple(sorted(keys))


@functools.cache
def _token_tables() -> tuple[str, str]:
    from django.contrib.auth import get_user_model

    from api.models import ApiToken

    return ApiToken._meta.db_table, get_user_model()._meta.db_table


@dataclass(slots=True)
class Lookup:
    key: tuple  # (version, changed) of the classification
    facts: dict | None  # the node's stored facts (the requested keys only); None when unknown or none asked
    producer_timestamp: datetime | None  # of the stored facts
    token_id: int | None  # the API token whose hash was given, when usable
    token_scopes: list | None
    token_touch_due: bool  # its last use was recorded more than a minute ago (or never)
    # Identity of the stored fact document: changes with every write of the factset row (its
    # ``xmin``, the writing transaction) and with its content (``hash``); None without facts.
    facts_identity: str | None = None
    facts_hash: str | None = None  # the stored document's sha1 (``Factset.hash``)
    facts_skipped: bool = False  # the caller already knew these facts (``known``): not read


_LOOKUP_SQL: dict = {}

# The stored facts' identity: the row version. Every UPDATE/INSERT of the row, whoever writes it
# and however (ORM, raw SQL, ingest), makes a new row version with the writer's transaction id
# (``xmin``) at a new place (``ctid``); a row version cannot be pruned while its writer runs, so
# the pair is unique (also for several updates in one transaction), and the content hash guards
# against a transaction id reused after wraparound.
_IDENTITY = "f.xmin::text || ':' || f.ctid::text || ':' || f.hash"


def _lookup_sql(keys: tuple | None, conn) -> str:
    """The lookup statement for ``keys``, built once per key set with the fact names as SQL
    literals (so the statement has only its six parameters and is prepared server-side).

    The fact document is read (detoasted, merged, cut to ``keys``) only when the caller does not
    already hold it: when (version, changed, facts identity) differ from the ``known`` ones."""
    text = _LOOKUP_SQL.get(keys)
    if text is not None:
        return text
    doc_join = sql.SQL(
        "LEFT JOIN LATERAL (SELECT f.stable || f.volatile AS doc "
        "WHERE (s.version, s.changed::text, {identity}) "
        "IS DISTINCT FROM (%(known_version)s::bigint, %(known_changed)s::text, %(known_identity)s::text) "
        "OFFSET 0) d ON TRUE"
    ).format(identity=sql.SQL(_IDENTITY))
    skipped = sql.SQL("f.node_id IS NOT NULL AND d.doc IS NULL")
    if keys is None or len(keys) > MAX_SUBSET_KEYS:
        facts = sql.SQL("d.doc::text")
    elif not keys:
        # No facts needed (a POST that brings its own): do not read the fact document at all.
        facts = sql.SQL("NULL::text")
        skipped = sql.SQL("FALSE")
        doc_join = sql.SQL("")
    else:
        pairs = sql.SQL(", ").join(sql.SQL("{}, d.doc -> {}").format(sql.Literal(k), sql.Literal(k)) for k in keys)
        facts = sql.SQL(
            "CASE WHEN d.doc IS NULL THEN NULL ELSE jsonb_strip_nulls(jsonb_build_object({}))::text END"
        ).format(pairs)
    from api.models import TOKEN_TOUCH_DUE_SQL, USABLE_TOKEN_SQL

    tokens, users = _token_tables()
    statement = sql.SQL(
        """
        SELECT s.version, s.changed::text, {facts}, n.facts_producer_timestamp, tok.id, tok.scopes,
               tok.touch_due, {identity}, f.hash, {skipped}
        FROM enc_classificationstate s
        LEFT JOIN inventory_node n ON n.certname = %(certname)s
        LEFT JOIN inventory_factset f ON f.node_id = n.id
        {doc_join}
        LEFT JOIN LATERAL (
            SELECT t.id, t.scopes, {touch_due} AS touch_due FROM {tokens} t JOIN {users} u ON u.id = t.user_id
            WHERE t.key_hash = %(token_hash)s AND {usable}
        ) tok ON TRUE
        WHERE s.id = %(state)s
        """
    ).format(
        facts=facts,
        identity=sql.SQL(_IDENTITY),
        skipped=skipped,
        doc_join=doc_join,
        tokens=sql.Identifier(tokens),
        users=sql.Identifier(users),
        touch_due=sql.SQL(TOKEN_TOUCH_DUE_SQL),
        usable=sql.SQL(USABLE_TOKEN_SQL),
    )
    text = statement.as_string(conn)
    if len(_LOOKUP_SQL) > 64:
        _LOOKUP_SQL.clear()
    _LOOKUP_SQL[keys] = text
    return text


def lookup(certname: str, keys: tuple | None, token_hash: str | None = None, known: tuple | None = None) -> Lookup:
    """ONE statement for the ENC request path: the classification version, the identity of the
    node's stored facts and the facts themselves (``keys`` only) and, when ``token_hash`` is given,
    the usable API token with that hash. ``known`` is ``((version, changed), facts identity)``
    the caller holds the facts of: when both are still current the fact document is not read
    (``facts_skipped``). Server-side bound and prepared (psycopg ``prepare=True``)."""
    (known_version, known_changed), known_identity = known if known is not None else ((None, None), None)

    def run():
        connection.ensure_connection()
        conn = connection.connection
        with connection.wrap_database_errors:
            cursor = psycopg.Cursor(conn)
            try:
                cursor.execute(
                    _lookup_sql(keys, conn),
                    {
                        "known_version": known_version,
                        "known_changed": known_changed,
                        "known_identity": known_identity,
                        "certname": certname,
                        "token_hash": token_hash,
                        "state": STATE_ID,
                    },
                    prepare=True,
                )
                return cursor.fetchone()
            finally:
                cursor.close()

    def run_prepared():
        try:
            return run()
        except NotSupportedError as exc:
            # Another connection's migration changed the type of a column this statement returns:
            # PostgreSQL refuses the prepared plan ("cached plan must not change result type").
            # Prepare it again on a new connection.
            if "cached plan must not change result type" not in str(exc) or connection.in_atomic_block:
                raise
            connection.close()
            return run()

    # No per-request health check on this path (it would cost a round trip): a connection the
    # server dropped fails here once and is replaced.
    row = retry_if_disconnected(run_prepared)
    version, changed, facts, producer_ts, token_id, scopes, touch_due, identity, digest, skipped = row
    return Lookup(
        key=(version, changed),
        facts=orjson.loads(facts) if facts is not None else None,
        producer_timestamp=producer_ts,
        token_id=token_id,
        token_scopes=scopes,
        token_touch_due=bool(touch_due),
        facts_identity=identity,
        facts_hash=digest,
        facts_skipped=bool(skipped),
    )


def touch_token(token_id: int) -> None:
    """Record a token's use (when ``token_touch_due``: at most once a minute, as ApiToken.authenticate)."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_token_tables()[0]} SET last_used = now() WHERE id = %s", [token_id])  # noqa: S608


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
        FROM inventory_node n {_DOC_JOIN}
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


def store_facts(
    certname: str,
    facts: dict,
    *,
    producer_timestamp: datetime,
    environment: str | None,
    producer: str | None = None,
    stored_hash: str | None = None,
) -> bool:
    """Store ``facts`` as the node's facts if they are newer than the stored ones (by producer
    timestamp). Keeps the Node/Factset contract: the whole document goes to ``stable`` with an
    empty ``volatile`` (a key in exactly one of the two), the node's ``facts_*`` columns follow,
    ``paths_hash`` is cleared so the next ingest refreshes FactPath, packages are left alone, a
    deactivated or expired node is reactivated. When the document is the one already stored
    (``stored_hash``, the hash the caller saw, still matches under the node's lock) only the
    timestamps, environment and producer are updated: the document is not rewritten. Set-based
    SQL with the ingest's node helpers (row lock, cached environment/producer ids) and orjson.
    Returns whether it stored."""
    from inventory.storage import nodes

    digest = facts_hash(facts)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            node = nodes.lock_node(cursor, certname)
            if node.facts_producer_timestamp is not None and node.facts_producer_timestamp >= producer_timestamp:
                return False
            now = timezone.now()
            stamps = [
                nodes.environment_id(cursor, environment or None),
                nodes.producer_id(cursor, producer or None),
                now,
                producer_timestamp,
            ]
            updated = 0
            if stored_hash is not None and stored_hash == digest:
                cursor.execute(
                    "UPDATE inventory_factset SET environment_id = %s, producer_id = %s, timestamp = %s, "
                    "producer_timestamp = %s WHERE node_id = %s AND hash = %s",
                    [*stamps, node.id, digest],
                )
                updated = cursor.rowcount
            if not updated:
                document = orjson.dumps(facts).decode()
                cursor.execute(
                    "UPDATE inventory_factset SET environment_id = %s, producer_id = %s, timestamp = %s, "
                    "producer_timestamp = %s, hash = %s, stable = %s::jsonb, volatile = '{}'::jsonb, paths_hash = '' "
                    "WHERE node_id = %s",
                    [*stamps, digest, document, node.id],
                )
                if not cursor.rowcount:
                    cursor.execute(
                        "INSERT INTO inventory_factset (node_id, environment_id, producer_id, timestamp, "
                        "producer_timestamp, hash, stable, volatile, paths_hash, package_hash, package_ids) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, '{}'::jsonb, '', '', '{}')",
                        [node.id, *stamps, digest, document],
                    )
            cursor.execute(
                "UPDATE inventory_node SET facts_timestamp = %s, facts_producer_timestamp = %s, "
                "facts_environment_id = %s, deactivated = NULL, expired = NULL WHERE id = %s",
                [now, producer_timestamp, stamps[0], node.id],
            )
            transaction.on_commit(nodes.commit_caches)
    except BaseException:
        nodes.discard_caches()
        raise
    return True
