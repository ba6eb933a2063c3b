"""``deactivate node`` and ``configure expiration`` commands."""

from __future__ import annotations

import datetime as dt

from inventory import signals
from inventory.storage import events
from inventory.storage.nodes import lock_node


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
    node = lock_node(cursor, cmd["certname"])
    cursor.execute(
        "UPDATE inventory_node SET expires_facts = %s, expires_facts_updated = %s WHERE id = %s",
        [cmd["expire"]["facts"], cmd["producer_timestamp"] or now, node.id],
    )
    return "stored"
