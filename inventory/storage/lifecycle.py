"""``deactivate node`` and ``configure expiration`` commands."""

from __future__ import annotations

import datetime as dt

from inventory import signals
from inventory.storage import events
from inventory.storage.nodes import REACTIVATE_SQL, lock_node


def deactivate_node(cursor, cmd: dict, now: dt.datetime) -> str:
    node = lock_node(cursor, cmd["certname"])
    when = cmd["producer_timestamp"] or now
    # A node that sent data after this deactivation was issued stays active (PuppetDB semantics).
    latest = max(
        (t for t in (node.facts_producer_timestamp, node.catalog_producer_timestamp, node.report_timestamp) if t),
        default=None,
    )
    if latest is not None and latest > when:
        return "stale"
    if node.deactivated is not None and node.deactivated <= when:
        return "unchanged"
    cursor.execute("UPDATE inventory_node SET deactivated = %s WHERE id = %s", [when, node.id])
    from inventory.models import Node

    events.emit(signals.node_deactivated, Node, node_id=node.id, reason="deactivated")
    return "stored"


def configure_expiration(cursor, cmd: dict, now: dt.datetime) -> str:
    """``configure expiration`` v1 (PuppetDB semantics): whether the node's facts — and so the
    node — ever expire. Like a new factset it reactivates a node deactivated or expired before
    it and extends the node's lifetime (``expires_facts_updated`` counts as activity for
    ``expire_nodes``); an older setting than the stored one is ignored ("stale")."""
    node = lock_node(cursor, cmd["certname"])
    when = cmd["producer_timestamp"] or now
    cursor.execute(f"UPDATE inventory_node SET {REACTIVATE_SQL} WHERE id = %s", [when, node.id])
    cursor.execute(
        "UPDATE inventory_node SET expires_facts = %s, expires_facts_updated = %s "
        "WHERE id = %s AND (expires_facts_updated IS NULL OR expires_facts_updated < %s)",
        [cmd["expire"]["facts"], when, node.id, when],
    )
    return "stored" if cursor.rowcount else "stale"
