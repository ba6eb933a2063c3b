"""Classification: which groups a node belongs to, and what they give it.

* Membership goes down the tree: the root "All nodes" holds every node; a node is in a group when
  it is in the group's parent and is pinned to the group or matches its rule (a group without a
  rule holds only its pinned nodes).
* Classes are the union of the classes of every group the node is in. A class parameter or a
  variable is taken from the groups that set it, dropping every group that is an ancestor of
  another such group (the deeper group overrides). If the remaining groups disagree, that is a
  *conflict*, naming every group involved and the value each gives.
* Environment: the node's environment group (``environment_trumps``) decides; a node in two
  environment groups (neither the ancestor of the other) is a conflict. Without one, a group's
  environment applies by the same override rule; with none, no environment is sent (the agent's
  choice stands).

``Snapshot`` is the compiled group tree of one classification version; ``classify`` and
``explain`` work on it and on plain dicts of facts, with no database access.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from enc import rules

log = logging.getLogger("stagehand.enc")


@dataclass(slots=True, eq=False)
class CompiledGroup:
    id: str
    name: str
    parent_id: str | None
    rule: Any
    pinned: frozenset
    classes: dict
    variables: dict
    environment: str
    environment_trumps: bool
    match: rules.Matcher | None = None
    rule_error: str | None = None
    children: list = field(default_factory=list)
    ancestors: frozenset = frozenset()
    depth: int = 0

    def ref(self) -> dict:
        return {"id": self.id, "name": self.name}


@dataclass(slots=True)
class Snapshot:
    version: int
    groups: dict  # id -> CompiledGroup
    root: CompiledGroup
    fact_keys: tuple  # top-level fact names the rules read
    uses_trusted: bool
    key: tuple = ()  # (version, changed) when loaded from the database
    # Resolved (and rendered) classifications by the tuple of matched group ids: resolution is a
    # pure function of the snapshot and the matched groups, so nodes in the same groups share it.
    memo: dict = field(default_factory=dict)
    # Per-node answers of this version (enc.answers): certname -> Stored / (digest, Result).
    stored: dict = field(default_factory=dict)
    posted: dict = field(default_factory=dict)

    def by_name(self, name: str) -> CompiledGroup | None:
        for group in self.groups.values():
            if group.name == name:
                return group
        return None


class SnapshotError(ValueError):
    pass


def compile_snapshot(version: int, rows: list[dict]) -> Snapshot:
    """Compile group rows (dicts with the NodeGroup fields; ``id``/``parent_id`` as strings)."""
    groups: dict[str, CompiledGroup] = {}
    fact_keys: set[str] = set()
    uses_trusted = False
    root = None
    for row in rows:
        group = CompiledGroup(
            id=str(row["id"]),
            name=row["name"],
            parent_id=str(row["parent_id"]) if row.get("parent_id") else None,
            rule=row.get("rule"),
            pinned=frozenset(row.get("pinned") or ()),
            classes=row.get("classes") or {},
            variables=row.get("variables") or {},
            environment=row.get("environment") or "",
            environment_trumps=bool(row.get("environment_trumps")),
        )
        if group.parent_id is None:
            if root is not None:
                raise SnapshotError(f"two root groups: {root.name!r} and {group.name!r}")
            root = group
        elif group.rule is not None:
            try:
                group.match = rules.compile_rule(group.rule)
            except rules.RuleError as exc:
                # Rules are validated on save; a bad stored rule matches nothing and is reported.
                group.rule_error = str(exc)
                log.error("invalid stored rule", extra={"group": group.name, "error": str(exc)})
            else:
                for f in rules.fields(group.rule):
                    if f == "name":
                        continue
                    if f[0] == "trusted":
                        uses_trusted = True
                    else:
                        fact_keys.add(str(f[1]))
        groups[group.id] = group
    if root is None:
        raise SnapshotError("no root group")
    for group in groups.values():
        if group.parent_id is not None:
            parent = groups.get(group.parent_id)
            if parent is None:
                raise SnapshotError(f"group {group.name!r} has an unknown parent {group.parent_id}")
            parent.children.append(group)
    # Depth-first from the root: ancestors and depth; groups not reached sit in a cycle.
    stack = [(root, frozenset(), 0)]
    seen = set()
    while stack:
        group, ancestors, depth = stack.pop()
        seen.add(group.id)
        group.ancestors = ancestors
        group.depth = depth
        group.children.sort(key=lambda g: g.name)
        for child in group.children:
            stack.append((child, ancestors | {group.id}, depth + 1))
    if len(seen) != len(groups):
        cyclic = sorted(g.name for g in groups.values() if g.id not in seen)
        raise SnapshotError(f"groups not reachable from the root (a parent cycle): {cyclic}")
    return Snapshot(
        version=version, groups=groups, root=root, fact_keys=tuple(sorted(fact_keys)), uses_trusted=uses_trusted
    )


# --- membership ------------------------------------------------------------------------------


def matched_groups(snapshot: Snapshot, certname: str, facts: dict, trusted: dict) -> list[CompiledGroup]:
    """The groups the node is in, parents before children."""
    out = [snapshot.root]
    frontier = [snapshot.root]
    while frontier:
        nxt = []
        for group in frontier:
            for child in group.children:
                if certname in child.pinned or (child.match is not None and child.match(certname, facts, trusted)):
                    out.append(child)
                    nxt.append(child)
        frontier = nxt
    return out


# --- resolution ------------------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _winners(candidates: list[tuple[CompiledGroup, Any]]) -> list[tuple[CompiledGroup, Any]]:
    """Drop every candidate that is an ancestor of another candidate (it is overridden)."""
    if len(candidates) == 1:
        return candidates
    return [(g, v) for g, v in candidates if not any(g.id in o.ancestors for o, _ in candidates)]


@dataclass
class Result:
    certname: str
    version: int
    groups: list  # CompiledGroup, parents first
    classes: dict
    parameters: dict
    environment: str | None
    conflicts: list = field(default_factory=list)
    # (kind, key) -> {"value", "group", "overridden": [groups]} when asked for provenance.
    sources: dict | None = None
    rendered: dict = field(default_factory=dict)  # format -> bytes, filled by the ENC view

    def as_enc(self, *, environment: bool = True) -> dict:
        """What Puppet's exec terminus reads: classes, parameters, environment."""
        data: dict = {"classes": self.classes, "parameters": self.parameters}
        if environment and self.environment:
            data["environment"] = self.environment
        return data

    def conflict_message(self, certname: str | None = None) -> str:
        parts = []
        for c in self.conflicts:
            groups = ", ".join(f"{g['name']!r} ({_short(g.get('value'))})" for g in c["groups"])
            parts.append(f"{c['kind']} {c['key']}: {groups}")
        return f"classification conflict for {certname or self.certname}: " + "; ".join(parts)


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _resolve(candidates, kind: str, key: str, conflicts: list, sources: dict | None):
    winners = _winners(candidates)
    first_group, first_value = winners[0]
    if len(winners) > 1:
        first = _canonical(first_value)
        if any(_canonical(v) != first for _, v in winners[1:]):
            conflicts.append(
                {
                    "kind": kind,
                    "key": key,
                    "groups": [{"id": g.id, "name": g.name, "value": v} for g, v in winners],
                }
            )
    if sources is not None:
        overridden = [g.ref() for g, _ in candidates if all(g is not w for w, _ in winners)]
        sources[(kind, key)] = {
            "value": first_value,
            "groups": [g.ref() for g, _ in winners],
            "overridden": overridden,
        }
    return first_value


def resolve(snapshot: Snapshot, certname: str, groups: list[CompiledGroup], *, provenance: bool = False) -> Result:
    conflicts: list = []
    sources: dict | None = {} if provenance else None
    class_params: dict[str, dict[str, list]] = {}
    variables: dict[str, list] = {}
    for group in groups:
        for cls, params in group.classes.items():
            slot = class_params.setdefault(cls, {})
            for param, value in (params or {}).items():
                slot.setdefault(param, []).append((group, value))
        for name, value in group.variables.items():
            variables.setdefault(name, []).append((group, value))
    classes = {}
    for cls, params in class_params.items():
        classes[cls] = {
            param: _resolve(cands, "class parameter", f"{cls}::{param}", conflicts, sources)
            for param, cands in params.items()
        }
    parameters = {name: _resolve(cands, "variable", name, conflicts, sources) for name, cands in variables.items()}

    environment = None
    env_groups = [(g, g.environment) for g in groups if g.environment_trumps and g.environment]
    if env_groups:
        winners = _winners(env_groups)
        if len(winners) > 1:
            conflicts.append(
                {
                    "kind": "environment group",
                    "key": "environment",
                    "groups": [{"id": g.id, "name": g.name, "value": v} for g, v in winners],
                }
            )
        environment = winners[0][1]
        if sources is not None:
            sources[("environment", "environment")] = {
                "value": environment,
                "groups": [g.ref() for g, _ in winners],
                "overridden": [],
            }
    else:
        plain = [(g, g.environment) for g in groups if g.environment]
        if plain:
            environment = _resolve(plain, "environment", "environment", conflicts, sources)
    return Result(
        certname=certname,
        version=snapshot.version,
        groups=groups,
        classes=classes,
        parameters=parameters,
        environment=environment,
        conflicts=conflicts,
        sources=sources,
    )


def classify(snapshot: Snapshot, certname: str, facts: dict | None, trusted: dict | None = None) -> Result:
    facts = facts or {}
    if trusted is None:
        trusted = facts.get("trusted") if isinstance(facts.get("trusted"), dict) else {}
    groups = matched_groups(snapshot, certname, facts, trusted)
    return resolve(snapshot, certname, groups)


MEMO_LIMIT = 20_000


def classify_memo(snapshot: Snapshot, certname: str, facts: dict, trusted: dict) -> Result:
    """``classify`` sharing the resolved result between nodes in the same groups. The result's
    ``certname`` is the first node's: pass the certname to ``conflict_message``."""
    groups = matched_groups(snapshot, certname, facts, trusted)
    ids = tuple(g.id for g in groups)
    result = snapshot.memo.get(ids)
    if result is None:
        result = resolve(snapshot, certname, groups)
        if len(snapshot.memo) >= MEMO_LIMIT:
            snapshot.memo.clear()
        snapshot.memo[ids] = result
    return result


# --- explanation -----------------------------------------------------------------------------


def explain(snapshot: Snapshot, certname: str, facts: dict | None, trusted: dict | None = None) -> dict:
    """For every group: in or out and why (pinned, which rule clause, parent not matched); and for
    every class parameter / variable / the environment, which group gave the value and which
    groups it overrode."""
    facts = facts or {}
    if trusted is None:
        trusted = facts.get("trusted") if isinstance(facts.get("trusted"), dict) else {}
    matched = matched_groups(snapshot, certname, facts, trusted)
    matched_ids = {g.id for g in matched}
    result = resolve(snapshot, certname, matched, provenance=True)

    entries = []
    stack = [snapshot.root]
    order = []
    while stack:
        group = stack.pop()
        order.append(group)
        stack.extend(reversed(group.children))
    for group in order:
        entry: dict = {
            "id": group.id,
            "name": group.name,
            "parent": group.parent_id,
            "matched": group.id in matched_ids,
        }
        parent_in = group.parent_id is None or group.parent_id in matched_ids
        if group.parent_id is None:
            entry["reason"] = "the root group holds every node"
        elif group.rule_error:
            entry["reason"] = f"stored rule is invalid: {group.rule_error}"
        else:
            trace = rules.explain(group.rule, certname, facts, trusted) if group.rule is not None else None
            if trace is not None:
                entry["rule_trace"] = trace
            pinned = certname in group.pinned
            if not parent_in:
                entry["reason"] = "not in the parent group"
            elif pinned:
                entry["reason"] = "pinned"
            elif trace is None:
                entry["reason"] = "no rule and not pinned"
            else:
                entry["reason"] = "rule matched" if trace["matched"] else "rule did not match"
                entry["because"] = rules.deciding_clauses(trace)
        entries.append(entry)

    def src(kind, key):
        return result.sources.get((kind, key))

    classes = {
        cls: {param: src("class parameter", f"{cls}::{param}") for param in params}
        for cls, params in result.classes.items()
    }
    class_origin = {}
    for cls in result.classes:
        class_origin[cls] = [g.ref() for g in matched if cls in g.classes]
    return {
        "certname": certname,
        "version": snapshot.version,
        "groups": entries,
        "matched_groups": [g.ref() for g in matched],
        "classification": result.as_enc(),
        "classes": {cls: {"declared_by": class_origin[cls], "parameters": classes[cls]} for cls in classes},
        "variables": {name: src("variable", name) for name in result.parameters},
        "environment": src("environment", "environment") or src("environment group", "environment"),
        "conflicts": result.conflicts,
    }


# --- save-time conflict check ----------------------------------------------------------------


def member_of(snapshot: Snapshot, group: CompiledGroup, certname: str, facts: dict, trusted: dict) -> bool:
    """Whether the node is in ``group``: only the rules on the group's ancestor chain run."""
    chain = []
    current = group
    while current is not None and current.parent_id is not None:
        chain.append(current)
        current = snapshot.groups.get(current.parent_id)
    for g in reversed(chain):
        if certname in g.pinned:
            continue
        if g.match is None or not g.match(certname, facts, trusted):
            return False
    return True


def _signature(conflict: dict) -> tuple:
    return (conflict["kind"], conflict["key"], tuple(sorted(g["id"] for g in conflict["groups"])))


def new_conflicts(old: Snapshot | None, new: Snapshot, nodes, changed_ids: set[str]) -> list[dict]:
    """Nodes (``(certname, facts, trusted)`` triples) that the change from ``old`` to ``new`` puts
    into a conflict they were not in before. Only nodes in a changed group (before or after) can
    be affected; for the others only the changed groups' ancestor rules run."""
    old_changed = [old.groups[i] for i in changed_ids if old is not None and i in old.groups]
    new_changed = [new.groups[i] for i in changed_ids if i in new.groups]
    affected = []
    for certname, facts, trusted in nodes:
        if not any(member_of(new, g, certname, facts, trusted) for g in new_changed) and not any(
            member_of(old, g, certname, facts, trusted) for g in old_changed
        ):
            continue
        after = resolve(new, certname, matched_groups(new, certname, facts, trusted))
        if not after.conflicts:
            continue
        before = set()
        if old is not None:
            before = {
                _signature(c) for c in resolve(old, certname, matched_groups(old, certname, facts, trusted)).conflicts
            }
        fresh = [c for c in after.conflicts if _signature(c) not in before]
        if fresh:
            affected.append({"certname": certname, "conflicts": fresh})
    return affected
