"""Fleet-wide rule evaluation at 50,000 nodes / 500 groups: group members, rule previews and the
save-time conflict check, before (every node's facts loaded and evaluated in Python, the code
this replaced) and after (enc.fleet: precomputed membership and rule-path projections).

    DJANGO_SETTINGS_MODULE=config.settings.web \\
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/stagehand_enc_fleet \\
    .venv/bin/python bench/enc/fleet.py [--repeat 5] [--before] [--before-repeat 1]

Needs the data set of ``bench/enc/seed.py``. Every change is made inside a transaction that is
rolled back (the UI's "check for conflicts" does the same), so the database is left as it was
apart from the enc.fleet tables. Figures are wall-clock milliseconds in this process (server
time: no HTTP); the members page is also timed through Django's full request cycle (middleware,
view, template) with a signed-in user. Prints the load average next to the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BASE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from enc import fleet, resolver, rules, service, store  # noqa: E402
from enc.models import ROOT_ID, NodeGroup  # noqa: E402

ROOT = str(ROOT_ID)


class Rollback(Exception):
    pass


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def timed(fn, repeat: int) -> tuple[list[float], object]:
    out, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - started) * 1000)
    return out, result


def report(kind: str, label: str, ms: list[float], note: str = "") -> None:
    print(
        f"RESULT {kind:<6} {label:<44} median_ms={statistics.median(ms):8.1f} min_ms={min(ms):8.1f} "
        f"max_ms={max(ms):8.1f} n={len(ms)} {note}",
        flush=True,
    )


def dry_run(change):
    """Run ``change`` in a transaction that is rolled back; the refusal's size or 'ok'."""
    try:
        with transaction.atomic():
            change()
            raise Rollback
    except Rollback:
        return "accepted"
    except service.ChangeRefused as exc:
        return f"refused affected={len(exc.affected)}"


# --- the code this replaced (kept callable from enc.store / enc.resolver) ----------------------


def members_before(group_id, limit=500):
    snapshot = store.load_snapshot()
    group = snapshot.groups[str(group_id)]
    names, total = [], 0
    for certname, facts, trusted in store.known_nodes(store.snapshot_fact_keys(snapshot)):
        if resolver.member_of(snapshot, group, certname, facts, trusted):
            total += 1
            if len(names) < limit:
                names.append(certname)
    return total


def preview_before(rule, parent_id=None, limit=50):
    matcher = rules.compile_rule(rule)
    snapshot = store.load_snapshot()
    parent = snapshot.groups.get(str(parent_id)) if parent_id else None
    keys = set(store.snapshot_fact_keys(snapshot)) if parent is not None else set()
    for f in rules.fields(rule):
        if f != "name":
            keys.add("trusted" if f[0] == "trusted" else str(f[1]))
    total = 0
    for certname, facts, trusted in store.known_nodes(tuple(sorted(keys))):
        if parent is not None and not resolver.member_of(snapshot, parent, certname, facts, trusted):
            continue
        if matcher(certname, facts, trusted):
            total += 1
    return total


def conflicts_before(orm_change):
    """The former save-time check: the change applied, then every active node's facts read."""

    def run():
        try:
            with transaction.atomic():
                old = store.load_snapshot()
                changed_id = orm_change()
                new = store.load_snapshot()
                keys = tuple(sorted(set(store.snapshot_fact_keys(old)) | set(store.snapshot_fact_keys(new))))
                affected = resolver.new_conflicts(old, new, store.known_nodes(keys), {changed_id})
                raise Rollback(len(affected))
        except Rollback as done:
            return f"affected={done.args[0]}"

    return run


# --- the scenarios ---------------------------------------------------------------------------


def groups() -> dict:
    names = ["env production", "dc3", "dc3 role3", "dc3 role3 leaf1"]
    out = {name: NodeGroup.objects.get(name=name) for name in names}
    out["All nodes"] = NodeGroup.objects.get(id=ROOT_ID)
    return out


PREVIEWS = [
    ("tier = prod (all nodes)", ["=", ["fact", "tier"], "prod"], None),
    (
        "dc3 and memory > 32768",
        ["and", ["=", ["fact", "datacenter"], "dc3"], [">", ["fact", "memorysize_mb"], 32768]],
        None,
    ),
    ("name ~ ^bench-0, in dc3", ["~", "name", "^bench-0"], "dc3"),
    ("tags <: tag3, in dc3 role3", ["<:", ["fact", "bench_tags"], "tag3"], "dc3 role3"),
    ("os.family = Debian (path no rule reads)", ["=", ["fact", "os", "family"], "Debian"], None),
]


def changes(g: dict) -> list:
    """(label, the change through enc.service, the same change with the ORM for 'before')."""

    def upd(group, **fields):
        def orm():
            NodeGroup.objects.filter(id=group.id).update(**fields)
            return str(group.id)

        return (lambda: service.update_group(group.id, fields, actor="bench")), orm

    def new_group(name, rule, variables):
        def orm():
            return str(NodeGroup.objects.create(name=name, parent_id=ROOT_ID, rule=rule, variables=variables).id)

        spec = {"name": name, "parent": ROOT, "rule": rule, "variables": variables}
        return (lambda: service.create_group(spec, actor="bench")), orm

    return [
        ("leaf rule (~125 nodes)", *upd(g["dc3 role3 leaf1"], rule=["<:", ["fact", "bench_tags"], "tag1"])),
        ("dc classes only (5,000 nodes)", *upd(g["dc3"], classes={"ntp": {"servers": ["x"], "iburst": True}})),
        ("dc rule (5,000 nodes, 51-group subtree)", *upd(g["dc3"], rule=["~", ["fact", "datacenter"], "^dc3$"])),
        ("env group rule (16,667 nodes)", *upd(g["env production"], rule=["~", ["fact", "tier"], "^pro"])),
        (
            "new top group, conflicting (refused)",
            *new_group("bench conflict", ["=", ["fact", "tier"], "prod"], {"datacenter": "zz"}),
        ),
        (
            "new top group, path no rule read",
            *new_group("bench new path", ["=", ["fact", "os", "name"], "x"], {"x": 1}),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", action="store_true", help="also time the code this replaced (slow)")
    parser.add_argument("--before-repeat", type=int, default=1)
    args = parser.parse_args()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM inventory_node")
        nodes = cursor.fetchone()[0]
    print(f"# {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {os.cpu_count()} cores, load average: {loadavg()}")
    print(f"# python {' '.join(sys.argv)}  nodes={nodes} groups={NodeGroup.objects.count()}", flush=True)
    g = groups()

    # The one-off build (first use, or after a change not made through enc.service).
    with connection.cursor() as cursor:
        cursor.execute("UPDATE enc_fleetstate SET version = NULL")
    ms, _ = timed(fleet.sync, 1)
    report("after", "full build of membership + projections", ms)
    ms, _ = timed(fleet.sync, args.repeat * 4)
    report("after", "freshness check (nothing changed)", ms)
    with connection.cursor() as cursor:  # 500 nodes' facts written since the last read
        cursor.execute(
            "UPDATE inventory_factset SET volatile = volatile WHERE node_id IN "
            "(SELECT id FROM inventory_node ORDER BY id LIMIT 500)"
        )
    ms, _ = timed(fleet.sync, 1)
    report("after", "refresh after 500 nodes' facts changed", ms)

    for name in ["All nodes", "env production", "dc3", "dc3 role3", "dc3 role3 leaf1"]:
        ms, result = timed(lambda name=name: service.members(g[name].id, limit=500), args.repeat)
        report("after", f"members page 500 + count: {name}", ms, f"count={result['count']}")
    user, _ = get_user_model().objects.get_or_create(username="fleet-bench", defaults={"is_superuser": True})
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(user)
    for name in ["env production", "dc3 role3 leaf1"]:
        url = f"/classification/{g[name].id}/members/"
        ms, response = timed(lambda url=url: client.get(url), args.repeat)
        report("after", f"UI members page (full request): {name}", ms, f"status={response.status_code}")
        cursor_url = f"{url}?after=bench-20000.example"
        ms, response = timed(lambda url=cursor_url: client.get(url), args.repeat)
        report("after", f"UI members page ?after=: {name}", ms, f"status={response.status_code}")

    for label, rule, parent in PREVIEWS:
        parent_id = g[parent].id if parent else None
        ms, result = timed(lambda r=rule, p=parent_id: service.preview(r, parent_id=p, limit=50), args.repeat)
        report("after", f"preview: {label}", ms, f"count={result['count']}")

    for label, change, _ in changes(g):
        ms, result = timed(lambda c=change: dry_run(c), args.repeat)
        report("after", f"save check: {label}", ms, result)

    if args.before:
        for name in ["env production", "dc3 role3 leaf1"]:
            ms, total = timed(lambda name=name: members_before(g[name].id), args.before_repeat)
            report("before", f"members: {name}", ms, f"count={total}")
        for label, rule, parent in PREVIEWS[:4]:
            parent_id = g[parent].id if parent else None
            ms, total = timed(lambda r=rule, p=parent_id: preview_before(r, p), args.before_repeat)
            report("before", f"preview: {label}", ms, f"count={total}")
        for label, _, orm in changes(g):
            ms, result = timed(conflicts_before(orm), args.before_repeat)
            report("before", f"save check: {label}", ms, result)
    print(f"# load average after: {loadavg()}", flush=True)


if __name__ == "__main__":
    main()
