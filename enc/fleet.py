"""Fleet-wide rule evaluation for the management API and the UI: group members, rule previews
and the save-time conflict check, fast at 50,000 nodes and exactly what ``enc.rules`` says.

The Python evaluator (``enc.rules``, ``enc.resolver``) stays the only definition of what a rule
means; this module only decides what it is fed:

* **Projection.** A rule reads a few fact paths, never a whole 15 KB fact document. ``FleetNode``
  keeps, per node, the values at the *covering paths* of every stored rule (``FleetState.paths``),
  extracted with ``#>`` in one set-based statement. A path is extracted in SQL only as far as
  PostgreSQL's ``#>`` and ``rules._fetch`` provably agree (``_sql_safe``: an array index must be
  plain ASCII digits; ``#>`` would also read ``"-1"``, ``" 1"`` or ``"+1"`` as indexes); the rest of
  the path is walked by the Python evaluator in the value extracted for the prefix. Trusted paths
  are extracted only when the ``trusted`` fact is a hash, as the ENC does.
* **Membership.** ``Membership`` holds every node (active or not) in every non-root group for the
  classification ``FleetState.version``: a members page is an index range (keyset on certname)
  and a count, joined to the node table for "active now".
* **Freshness.** Before answering, ``sync`` compares every node's factset row version
  (``xmin``, ``timestamp``: any write of the facts changes it) with the one its projection came
  from, re-extracts the changed nodes and recomputes their membership; a different
  classification version (a change not made through ``enc.service``) or missing paths rebuild
  everything. A group change (``check_change``, in the change's own transaction) evaluates only
  the nodes in the changed group before or after, moves the changed subtree's membership and
  records the new version, so the tables never lag a committed change.

The ``enc`` process never reads these tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection, transaction

from enc import resolver, rules
from enc.models import ROOT_ID, STATE_ID

ROOT = str(ROOT_ID)
CHUNK = 5000
_ACTIVE = "n.deactivated IS NULL AND n.expired IS NULL"
# The merged fact document, detoasted once per row (OFFSET 0 keeps it from being inlined).
_DOC = (
    "LEFT JOIN LATERAL (SELECT f.xmin::text::bigint AS xmin, f.timestamp, f.stable || f.volatile AS doc "
    "FROM inventory_factset f WHERE f.node_id = n.id OFFSET 0) d ON TRUE"
)


# --- paths -----------------------------------------------------------------------------------


def _sql_safe(segment: str) -> bool:
    """Whether ``#>`` reads this path segment exactly like ``rules._fetch`` on hashes AND arrays:
    plain ASCII digits (the same index), or no digit at all (never an index for either).
    Anything else ("-1", " 1", "+1", "01x", non-ASCII digits) is left to Python."""
    if "\x00" in segment:
        return False
    if segment.isascii() and segment.isdigit():
        return True
    return not any(ch.isdigit() for ch in segment)


def covering_path(field: Any) -> tuple | None:
    """The path extracted in SQL for a rule field: ``("fact"|"trusted", seg, ...)`` with string
    segments, cut before the first segment SQL could read differently; None for ``name``."""
    if field == "name":
        return None
    source, segments = field[0], [str(s) for s in field[1:]]
    out = [segments[0]]  # the first segment is a key of a hash (the facts, or the trusted hash)
    for segment in segments[1:]:
        if not _sql_safe(segment):
            break
        out.append(segment)
    return (source, *out)


def minimal(paths: Iterable[tuple]) -> list[tuple]:
    """Drop every path that extends another one (its value is inside the shorter one's)."""
    unique = sorted(set(paths), key=lambda p: (len(p), p))
    out: list[tuple] = []
    for path in unique:
        if not any(path[: len(kept)] == kept for kept in out):
            out.append(path)
    return sorted(out)


def rule_paths(rule: Any) -> set[tuple]:
    return {p for p in (covering_path(f) for f in rules.fields(rule)) if p is not None}


def snapshot_paths(snapshot: resolver.Snapshot) -> set[tuple]:
    paths: set[tuple] = set()
    for group in snapshot.groups.values():
        if group.match is not None:
            paths |= rule_paths(group.rule)
    return paths


def covers(stored: list[tuple], needed: Iterable[tuple]) -> bool:
    return all(any(path[: len(s)] == s for s in stored) for path in needed)


def _expressions(paths: list[tuple]) -> tuple[str, list]:
    """``jsonb_build_array`` of the values at ``paths`` over ``d.doc``, and its parameters."""
    if not paths:
        return "'[]'::jsonb", []
    parts, params = [], []
    for source, *segments in paths:
        if source == "fact":
            parts.append("d.doc #> %s::text[]")
            params.append(segments)
        else:
            parts.append("CASE WHEN jsonb_typeof(d.doc -> 'trusted') = 'object' THEN d.doc #> %s::text[] END")
            params.append(["trusted", *segments])
    return f"jsonb_build_array({', '.join(parts)})", params


class Projection:
    """Turns a row of extracted values back into the ``facts`` and ``trusted`` hashes the
    evaluator reads (only the extracted paths are present; everything else is missing, as it
    is for the evaluator when a path does not exist)."""

    def __init__(self, paths: list[tuple], only: Iterable[tuple] | None = None):
        self.paths = paths
        if only is None:
            self.wanted = list(enumerate(paths))
        else:
            needed = list(only)
            self.wanted = [
                (i, p) for i, p in enumerate(paths) if any(n[: len(p)] == p or p[: len(n)] == n for n in needed)
            ]

    def docs(self, values: list) -> tuple[dict, dict]:
        facts: dict = {}
        trusted: dict = {}
        for i, (source, *segments) in self.wanted:
            value = values[i]
            if value is None:
                continue
            target = facts if source == "fact" else trusted
            for segment in segments[:-1]:
                target = target.setdefault(segment, {})
            target[segments[-1]] = value
        return facts, trusted


# --- state -----------------------------------------------------------------------------------


@dataclass
class State:
    version: int | None
    changed: Any
    paths: list[tuple]

    @property
    def key(self) -> tuple:
        return (self.version, self.changed)


def _state(cursor, *, lock: bool = True) -> State:
    cursor.execute(
        "INSERT INTO enc_fleetstate (id, version, changed, paths) VALUES (%s, NULL, NULL, '[]') "
        "ON CONFLICT (id) DO NOTHING",
        [STATE_ID],
    )
    cursor.execute(
        "SELECT version, changed, paths::text FROM enc_fleetstate WHERE id = %s"  # noqa: S608
        + (" FOR UPDATE" if lock else ""),
        [STATE_ID],
    )
    version, changed, paths = cursor.fetchone()
    return State(version, changed, [tuple(p) for p in orjson.loads(paths)])


def _save_state(cursor, state: State) -> None:
    cursor.execute(
        "UPDATE enc_fleetstate SET version = %s, changed = %s, paths = %s::jsonb WHERE id = %s",
        [state.version, state.changed, orjson.dumps([list(p) for p in state.paths]).decode(), STATE_ID],
    )


# --- extraction and membership ---------------------------------------------------------------


def _store_projection(cursor, paths: list[tuple], node_ids: list[int] | None) -> None:
    """(Re-)extract the values at ``paths`` for ``node_ids`` (None: every node), set-based."""
    values, params = _expressions(paths)
    where = "" if node_ids is None else "WHERE n.id = ANY(%s)"
    cursor.execute(
        f"""
        INSERT INTO enc_fleetnode (node_id, certname, vals)
        SELECT n.id, n.certname, {values}
        FROM inventory_node n {_DOC} {where}
        ON CONFLICT (node_id) DO UPDATE SET certname = excluded.certname, vals = excluded.vals
        """,  # noqa: S608 - only generated expressions and placeholders
        [*params, *([] if node_ids is None else [node_ids])],
    )


def _projected(state: State, node_ids: list[int] | None = None, only=None, *, where: str = "", params=()):
    """``(node_id, certname, facts, trusted)`` from FleetNode (``p``), in chunks (server-side
    cursor): for ``node_ids``, or the rows ``where`` selects, or all."""
    projection = Projection(state.paths, only)
    if node_ids is not None:
        where, params = "WHERE p.node_id = ANY(%s)", [node_ids]
    with connection.chunked_cursor() as chunked:
        chunked.execute(f"SELECT p.node_id, p.certname, p.vals::text FROM enc_fleetnode p {where}", params)  # noqa: S608
        while rows := chunked.fetchmany(CHUNK):
            for node_id, certname, vals in rows:
                facts, trusted = projection.docs(orjson.loads(vals))
                yield node_id, certname, facts, trusted


def _ids_table(cursor, ids: Iterable[int]) -> None:
    """Node ids into the temporary table ``enc_fleet_ids`` (COPY: no 50,000-element
    parameter), for joins."""
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS enc_fleet_ids (node_id bigint PRIMARY KEY) ON COMMIT DROP")
    cursor.execute("TRUNCATE enc_fleet_ids")
    with cursor.copy("COPY enc_fleet_ids (node_id) FROM STDIN") as copy:
        for node_id in ids:
            copy.write_row((node_id,))


def _write_membership(cursor, rows: Iterable[tuple]) -> None:
    with cursor.copy("COPY enc_membership (group_id, certname, node_id) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _recompute_nodes(cursor, snapshot: resolver.Snapshot, state: State, node_ids: list[int] | None) -> None:
    """Membership of ``node_ids`` (None: all) in every group, from their projections."""
    if node_ids is None:
        cursor.execute("TRUNCATE enc_membership")
    else:
        cursor.execute("DELETE FROM enc_membership WHERE node_id = ANY(%s)", [node_ids])
    rows = []
    for node_id, certname, facts, trusted in _projected(state, node_ids):
        for group in resolver.matched_groups(snapshot, certname, facts, trusted)[1:]:
            rows.append((group.id, certname, node_id))
    _write_membership(cursor, rows)


def _sync_locked(cursor, snapshot: resolver.Snapshot, state: State) -> State:
    """With the fleet state row locked: make FleetNode and Membership current for ``snapshot``
    and the stored facts. The facts are read by statements after the dirty entries, so they are
    at least as new as every entry read; an entry written after it was read stays."""
    cursor.execute("SELECT node_id, seq FROM enc_fleetdirty")
    entries = cursor.fetchall()
    needed = snapshot_paths(snapshot)
    if state.key != snapshot.key or not covers(state.paths, needed):
        # A change not made through enc.service, or first use: rebuild everything.
        state = State(snapshot.version, snapshot.key[1] if snapshot.key else None, minimal(needed))
        cursor.execute("TRUNCATE enc_fleetnode")
        _store_projection(cursor, state.paths, None)
        _recompute_nodes(cursor, snapshot, state, None)
        _save_state(cursor, state)
        cursor.execute("ANALYZE enc_fleetnode")
        cursor.execute("ANALYZE enc_membership")
    elif entries:
        node_ids = sorted(node_id for node_id, _ in entries)
        cursor.execute("DELETE FROM enc_fleetnode WHERE node_id = ANY(%s)", [node_ids])
        _store_projection(cursor, state.paths, node_ids)  # only the nodes that still exist
        _recompute_nodes(cursor, snapshot, state, node_ids)
    if entries:
        # Only entries not rewritten since they were read (a writer's upsert locks the row, so
        # this waits for a concurrent writer and then keeps its entry).
        cursor.execute(
            "DELETE FROM enc_fleetdirty d USING unnest(%s::bigint[], %s::bigint[]) AS r(node_id, seq) "
            "WHERE d.node_id = r.node_id AND d.seq = r.seq",
            [[n for n, _ in entries], [q for _, q in entries]],
        )
    return state


_FRESH_SQL = """
SELECT s.version, s.changed, s.paths::text, c.version, c.changed, EXISTS (SELECT 1 FROM enc_fleetdirty)
FROM enc_classificationstate c LEFT JOIN enc_fleetstate s ON s.id = c.id WHERE c.id = %s
"""


def sync() -> State:
    """Bring the tables up to date: one cheap statement when nothing changed."""
    with connection.cursor() as cursor:
        cursor.execute(_FRESH_SQL, [STATE_ID])
        version, changed, paths, current_version, current_changed, dirty = cursor.fetchone()
        if version is not None and (version, changed) == (current_version, current_changed) and not dirty:
            return State(version, changed, [tuple(p) for p in orjson.loads(paths)])
    from enc import store

    with transaction.atomic(), connection.cursor() as cursor:
        state = _state(cursor, lock=True)
        return _sync_locked(cursor, store.load_snapshot(), state)


# --- members and preview ---------------------------------------------------------------------


def _page(cursor, group_id: str, after: str | None, limit: int) -> tuple[int, list[str]]:
    """Count and one keyset page (certname order) of the group's active members: an index range
    of ``enc_membership`` (or of the active-node index for the root), never a scan of facts."""
    if group_id == ROOT:
        cursor.execute(f"SELECT count(*) FROM inventory_node n WHERE {_ACTIVE}")  # noqa: S608
        total = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT n.certname FROM inventory_node n WHERE {_ACTIVE} AND n.certname > %s "  # noqa: S608
            "ORDER BY n.certname LIMIT %s",
            [after or "", limit],
        )
        return total, [r[0] for r in cursor.fetchall()]
    active = f"EXISTS (SELECT 1 FROM inventory_node n WHERE n.id = m.node_id AND {_ACTIVE})"  # noqa: S608
    cursor.execute(f"SELECT count(*) FROM enc_membership m WHERE m.group_id = %s AND {active}", [group_id])  # noqa: S608
    total = cursor.fetchone()[0]
    cursor.execute(
        f"SELECT m.certname FROM enc_membership m WHERE m.group_id = %s AND m.certname > %s AND {active} "  # noqa: S608
        "ORDER BY m.certname LIMIT %s",
        [group_id, after or "", limit],
    )
    return total, [r[0] for r in cursor.fetchall()]


def members(group_id: str, *, after: str | None = None, limit: int = 1000) -> dict:
    """Active nodes in the group now: a total count and one page (certnames after ``after``)."""
    state = sync()
    group_id = str(group_id)
    with connection.cursor() as cursor:
        total, names = _page(cursor, group_id, after, limit + 1)
    more = len(names) > limit
    names = names[:limit]
    return {
        "count": total,
        "nodes": names,
        "next_after": names[-1] if more else None,
        "truncated": more,
        "version": state.version,
    }


def preview(rule: Any, parent_id: Any, pinned: list, limit: int) -> dict:
    """Active nodes ``rule`` (or ``pinned``) would hold inside ``parent_id`` (None: every node)."""
    state = sync()
    matcher = rules.compile_rule(rule) if rule is not None else None
    pinned_set = set(pinned or ())
    parent = str(parent_id) if parent_id is not None else ROOT
    inside = "" if parent == ROOT else "JOIN enc_membership m ON m.node_id = n.id AND m.group_id = %s"
    params: list = [] if parent == ROOT else [parent]
    needed = rule_paths(rule) if rule is not None else set()
    matched: list[str] = []
    with connection.cursor() as cursor:
        if matcher is None:
            cursor.execute(
                f"SELECT n.certname FROM inventory_node n {inside} WHERE {_ACTIVE} AND n.certname = ANY(%s) "  # noqa: S608
                "ORDER BY n.certname",
                [*params, sorted(pinned_set)],
            )
            matched = [r[0] for r in cursor.fetchall()]
        else:
            if covers(state.paths, needed):
                projection = Projection(state.paths, needed)
                statement = (
                    f"SELECT n.certname, p.vals::text FROM inventory_node n "  # noqa: S608
                    f"JOIN enc_fleetnode p ON p.node_id = n.id {inside} WHERE {_ACTIVE} ORDER BY n.certname"
                )
            else:
                # A path no stored rule reads: extract it from the facts (slower: reads every
                # candidate's fact document once).
                paths = minimal(needed)
                projection = Projection(paths)
                values, extra = _expressions(paths)
                statement = (
                    f"SELECT n.certname, {values}::text FROM inventory_node n {_DOC} {inside} "  # noqa: S608
                    f"WHERE {_ACTIVE} ORDER BY n.certname"
                )
                params = [*extra, *params]
            with connection.chunked_cursor() as chunked:
                chunked.execute(statement, params)
                while rows := chunked.fetchmany(CHUNK):
                    for certname, vals in rows:
                        if certname in pinned_set:
                            matched.append(certname)
                            continue
                        facts, trusted = projection.docs(orjson.loads(vals))
                        if matcher(certname, facts, trusted):
                            matched.append(certname)
    return {
        "count": len(matched),
        "nodes": matched[:limit],
        "truncated": len(matched) > limit,
        "version": state.version,
    }


# --- the save-time conflict check ------------------------------------------------------------


def _order(snapshot: resolver.Snapshot) -> dict[str, int]:
    """Each group's position in a breadth-first walk (children by name), which is the order
    ``resolver.matched_groups`` lists a node's groups in."""
    order: dict[str, int] = {}
    level = [snapshot.root]
    while level:
        nxt = []
        for group in level:
            order[group.id] = len(order)
            nxt.extend(group.children)
        level = nxt
    return order


def _subtree(group: resolver.CompiledGroup | None) -> list[resolver.CompiledGroup]:
    out, stack = [], [group] if group is not None else []
    while stack:
        g = stack.pop()
        out.append(g)
        stack.extend(g.children)
    return out


def _in_subtree(group: resolver.CompiledGroup, certname: str, facts: dict, trusted: dict) -> list[str]:
    """The groups of ``group``'s subtree the node is in, given that it is in ``group``'s parent."""
    if certname not in group.pinned and (group.match is None or not group.match(certname, facts, trusted)):
        return []
    out = [group.id]
    for child in group.children:
        out.extend(_in_subtree(child, certname, facts, trusted))
    return out


def _member_ids(cursor, group_id: str) -> set[int]:
    if group_id == ROOT:
        cursor.execute("SELECT node_id FROM enc_fleetnode")
    else:
        cursor.execute("SELECT node_id FROM enc_membership WHERE group_id = %s", [group_id])
    return {r[0] for r in cursor.fetchall()}


def _in_group(group_id: str) -> tuple[str, list]:
    """A ``_projected`` filter: the (old) members of ``group_id``."""
    if group_id == ROOT:
        return "", []
    return "JOIN enc_membership m ON m.node_id = p.node_id AND m.group_id = %s", [group_id]


def _same_members(old: resolver.CompiledGroup | None, new: resolver.CompiledGroup | None) -> bool:
    return (
        old is not None
        and new is not None
        and (old.parent_id, old.rule, old.pinned, old.rule_error)
        == (new.parent_id, new.rule, new.pinned, new.rule_error)
    )


def check_change(old: resolver.Snapshot, new: resolver.Snapshot, changed_id: str) -> list[dict]:
    """Inside the change's transaction (classification state locked, ``new`` written, not yet
    committed): the active nodes the change puts into a conflict they were not in before, as
    ``resolver.new_conflicts`` reports them. Also moves the membership of the changed group's
    subtree to ``new``; ``commit`` then records the new version.

    Only the nodes in the changed group before or after can change (a group's members are
    members of its parent, and the other groups' rules did not change); of the other nodes only
    the changed group's own rule is evaluated, on the paths it reads."""
    with connection.cursor() as cursor:
        state = _sync_locked(cursor, old, _state(cursor, lock=True))
        needed = snapshot_paths(new)
        if not covers(state.paths, needed):
            # A path no stored rule read before: one extraction pass over the facts.
            state.paths = minimal(set(state.paths) | needed)
            _store_projection(cursor, state.paths, None)
        old_group, new_group = old.groups.get(changed_id), new.groups.get(changed_id)

        before_in = _member_ids(cursor, changed_id) if old_group is not None else set()
        if _same_members(old_group, new_group):
            new_in = before_in
        elif new_group is None:
            new_in = set()
        else:
            # The new parent's members are the same before and after (it is not in the subtree).
            where, params = _in_group(new_group.parent_id)
            new_in = set()
            only = rule_paths(new_group.rule) if new_group.match else ()
            for node_id, certname, facts, trusted in _projected(state, None, only, where=where, params=params):
                if certname in new_group.pinned or (
                    new_group.match is not None and new_group.match(certname, facts, trusted)
                ):
                    new_in.add(node_id)
        affected_ids = sorted(before_in | new_in)
        _ids_table(cursor, affected_ids)
        cursor.execute(
            "SELECT m.node_id, array_agg(m.group_id::text) FROM enc_membership m "
            "JOIN enc_fleet_ids i ON i.node_id = m.node_id GROUP BY m.node_id"
        )
        groups_before = {node_id: set(ids) for node_id, ids in cursor.fetchall()}
        cursor.execute(
            f"SELECT n.id, n.certname, {_ACTIVE} FROM inventory_node n JOIN enc_fleet_ids i ON i.node_id = n.id "  # noqa: S608
            "ORDER BY n.certname"
        )
        nodes = {node_id: (certname, active) for node_id, certname, active in cursor.fetchall()}  # certname order

        after: dict[int, set] = {}
        if _same_members(old_group, new_group):
            for node_id in affected_ids:
                after[node_id] = groups_before.get(node_id, set())
        else:
            old_subtree = {g.id for g in _subtree(old_group)}
            new_rows = []
            if new_group is not None and new_group.children:
                _ids_table(cursor, sorted(new_in))
                evaluated = _projected(state, where="JOIN enc_fleet_ids i ON i.node_id = p.node_id")
            else:
                evaluated = ((i, nodes[i][0], {}, {}) for i in sorted(new_in) if i in nodes)
            added: dict[int, list] = {}
            for node_id, certname, facts, trusted in evaluated:
                ids = [new_group.id]
                for child in new_group.children:
                    ids.extend(_in_subtree(child, certname, facts, trusted))
                added[node_id] = ids
                new_rows.extend((gid, certname, node_id) for gid in ids)
            for node_id in affected_ids:
                after[node_id] = (groups_before.get(node_id, set()) - old_subtree) | set(added.get(node_id, ()))
            if old_subtree:
                cursor.execute("DELETE FROM enc_membership WHERE group_id = ANY(%s::uuid[])", [sorted(old_subtree)])
            _write_membership(cursor, new_rows)
        _save_state(cursor, state)

    old_order, new_order = _order(old), _order(new)
    resolved: dict = {}

    def conflicts(snapshot, order, ids):
        key = (id(snapshot), tuple(sorted(ids, key=order.__getitem__)))
        if key not in resolved:
            groups = [snapshot.root, *(snapshot.groups[i] for i in key[1])]
            resolved[key] = resolver.resolve(snapshot, "", groups).conflicts
        return resolved[key]

    affected = []
    for node_id, (certname, active) in nodes.items():
        if not active:
            continue
        fresh_after = conflicts(new, new_order, after[node_id])
        if not fresh_after:
            continue
        seen = {resolver._signature(c) for c in conflicts(old, old_order, groups_before.get(node_id, set()))}
        fresh = [c for c in fresh_after if resolver._signature(c) not in seen]
        if fresh:
            affected.append({"certname": certname, "conflicts": fresh})
    return affected


def commit(version: int, changed) -> None:
    """Record that the membership table now holds classification ``(version, changed)``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE enc_fleetstate SET version = %s, changed = %s WHERE id = %s", [version, changed, STATE_ID]
        )
