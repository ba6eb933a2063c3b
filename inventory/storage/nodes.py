"""Nodes, environments and producers: get-or-create by name, lock the node row."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

# name -> id, per process. Environments and producers are never deleted while in use, and a
# rolled-back insert is never cached (ids are cached only when seen committed, see ``commit``).
_env_cache: dict[str, int] = {}
_producer_cache: dict[str, int] = {}
_local = threading.local()  # names created by this thread's open transaction


def _staged_list() -> list[tuple[dict, str, int]]:
    staged = getattr(_local, "staged", None)
    if staged is None:
        staged = _local.staged = []
    return staged


def _get_or_create(cursor, table: str, cache: dict, name: str | None) -> int | None:
    if name is None:
        return None
    found = cache.get(name)
    if found is not None:
        return found
    cursor.execute(f"SELECT id FROM {table} WHERE name = %s", [name])
    row = cursor.fetchone()
    if row is None:
        cursor.execute(
            f"INSERT INTO {table} (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id",
            [name],
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"SELECT id FROM {table} WHERE name = %s", [name])
            row = cursor.fetchone()
        _staged_list().append((cache, name, row[0]))
        return row[0]
    cache[name] = row[0]
    return row[0]


def environment_id(cursor, name: str | None) -> int | None:
    return _get_or_create(cursor, "inventory_environment", _env_cache, name)


def producer_id(cursor, name: str | None) -> int | None:
    return _get_or_create(cursor, "inventory_producer", _producer_cache, name)


def commit_caches() -> None:
    """The transaction that created staged names committed: remember them."""
    staged = _staged_list()
    for cache, name, ident in staged:
        cache[name] = ident
    staged.clear()


def discard_caches() -> None:
    _staged_list().clear()
    _env_cache.clear()
    _producer_cache.clear()


@dataclass
class LockedNode:
    id: int
    certname: str
    deactivated: dt.datetime | None
    expired: dt.datetime | None
    facts_producer_timestamp: dt.datetime | None
    catalog_producer_timestamp: dt.datetime | None
    report_timestamp: dt.datetime | None
    latest_report_status: str | None
    latest_report_id: int | None
    created: bool = False


_NODE_COLUMNS = (
    "id, certname, deactivated, expired, facts_producer_timestamp, catalog_producer_timestamp, "
    "report_timestamp, latest_report_status, latest_report_id"
)


def lock_node(cursor, certname: str) -> LockedNode:
    """The node row for ``certname``, created if absent, locked FOR UPDATE until commit."""
    cursor.execute(f"SELECT {_NODE_COLUMNS} FROM inventory_node WHERE certname = %s FOR UPDATE", [certname])
    row = cursor.fetchone()
    created = False
    if row is None:
        cursor.execute(
            "INSERT INTO inventory_node (certname, created, expires_facts) VALUES (%s, now(), true) "
            f"ON CONFLICT (certname) DO NOTHING RETURNING {_NODE_COLUMNS}",
            [certname],
        )
        row = cursor.fetchone()
        created = row is not None
        if row is None:  # created concurrently
            cursor.execute(f"SELECT {_NODE_COLUMNS} FROM inventory_node WHERE certname = %s FOR UPDATE", [certname])
            row = cursor.fetchone()
    return LockedNode(*row, created=created)


# SQL fragment for an UPDATE of inventory_node: a write newer than the deactivation (or any
# write, for expiry) makes the node active again. Takes the command's producer_timestamp.
REACTIVATE_SQL = (
    "deactivated = CASE WHEN deactivated IS NOT NULL AND deactivated <= %s THEN NULL ELSE deactivated END, "
    "expired = NULL"
)


def stage_mark() -> int:
    """Where the staged-name list stands (before a savepoint)."""
    return len(_staged_list())


def stage_rollback(mark: int) -> None:
    """The savepoint was rolled back: forget the names it created."""
    del _staged_list()[mark:]
