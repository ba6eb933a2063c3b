"""Seed the ENC benchmark data set: 50,000 nodes with ~500 facts each and 500 node groups.

    DJANGO_SETTINGS_MODULE=config.settings.web .venv/bin/python bench/enc/seed.py [--nodes N] [--groups N]

Nodes are ``bench-NNNNN.example`` (set-based SQL, ``INSERT ... SELECT``), each with the facts of a
real agent (tests/fixtures/puppetdb/facts-v5-baseline-agent-node.json, 376 facts) plus 124
generated ones, and trusted facts with a ``pp_role`` extension. Groups form a realistic tree:
3 environment groups (by ``tier``), 10 datacenter groups, 10 role groups under each (on a trusted
extension and a numeric fact), and leaf groups under the roles using ~, <:, >, not and pinned
nodes, until the total reaches --groups. Writes a ``classify`` token to --token-file and the
POST body (a real-size fact set) to --body-file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

BASE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from api.models import ApiToken  # noqa: E402
from enc import resolver, store  # noqa: E402
from enc.models import ROOT_ID, AuditEntry, ClassificationState, NodeGroup  # noqa: E402

FACTS = BASE / "tests" / "fixtures" / "puppetdb" / "facts-v5-baseline-agent-node.json"
DCS = 10
ROLES = 10
TIERS = ["prod", "stage", "dev"]


def template() -> dict:
    values = json.loads(FACTS.read_text())["values"]
    for i in range(124):
        values[f"bench_custom_{i:03d}"] = f"value {i} " + "x" * (i % 20)
    return values


def seed_nodes(count: int, facts: dict) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM inventory_factset WHERE node_id IN "
            "(SELECT id FROM inventory_node WHERE certname LIKE 'bench-%%')"
        )
        cursor.execute("DELETE FROM inventory_node WHERE certname LIKE 'bench-%%'")
        cursor.execute(
            """
            INSERT INTO inventory_node (certname, created, expires_facts, facts_timestamp, facts_producer_timestamp)
            SELECT 'bench-' || lpad(i::text, 5, '0') || '.example', now(), TRUE, now(), now()
            FROM generate_series(0, %s - 1) AS i
            """,
            [count],
        )
        cursor.execute(
            """
            INSERT INTO inventory_factset (node_id, timestamp, producer_timestamp, hash, stable, volatile,
                                           paths_hash, package_hash, package_ids)
            SELECT n.id, now(), now(), md5(n.certname), %s::jsonb || jsonb_build_object(
                       'fqdn', n.certname,
                       'hostname', split_part(n.certname, '.', 1),
                       'datacenter', 'dc' || (i %% %s),
                       'tier', (ARRAY['prod','stage','dev'])[1 + (i / 7) %% 3],
                       'memorysize_mb', (1024 * (1 + i %% 64))::text,
                       'bench_tags', jsonb_build_array('tag' || (i %% 5), 'tag' || (i %% 7), 'all'),
                       'processors', jsonb_build_object('count', 1 + i %% 16, 'physicalcount', 1),
                       'trusted', jsonb_build_object('certname', n.certname, 'authenticated', 'remote',
                           'extensions', jsonb_build_object('pp_role', 'role' || ((i / %s) %% %s)))),
                   '{}'::jsonb, '', '', '{}'
            FROM (SELECT id, certname, substring(certname from 7 for 5)::int AS i
                  FROM inventory_node WHERE certname LIKE 'bench-%%') AS n
            """,
            [json.dumps(facts), DCS, DCS, ROLES],
        )
    print(f"seeded {count} nodes", flush=True)


def group_rows(total: int) -> list[dict]:
    rows = []

    def add(name, parent, rule, **kw):
        gid = str(uuid.uuid4())
        rows.append({"id": gid, "name": name, "parent_id": parent, "rule": rule, **kw})
        return gid

    root = str(ROOT_ID)
    for tier, env in zip(TIERS, ["production", "staging", "development"], strict=True):
        add(f"env {env}", root, ["=", ["fact", "tier"], tier], environment=env, environment_trumps=True)
    leaf_rules = [
        lambda d, r: ["~", "name", "[02468]\\.example$"],
        lambda d, r: ["<:", ["fact", "bench_tags"], "tag3"],
        lambda d, r: ["and", [">", ["fact", "memorysize_mb"], 32768], ["not", ["=", ["fact", "kernel"], "windows"]]],
        lambda d, r: ["or", ["=", ["fact", "processors", "count"], 4], ["~", ["fact", "hostname"], "^bench-0"]],
    ]
    dcs = [
        add(
            f"dc{d}",
            root,
            ["=", ["fact", "datacenter"], f"dc{d}"],
            classes={"ntp": {"servers": [f"ntp1.dc{d}", f"ntp2.dc{d}"], "iburst": True}},
            variables={"datacenter": f"dc{d}", "syslog_host": f"log.dc{d}"},
        )
        for d in range(DCS)
    ]
    roles = []
    for d, dc in enumerate(dcs):
        for r in range(ROLES):
            roles.append(
                (
                    d,
                    r,
                    add(
                        f"dc{d} role{r}",
                        dc,
                        [
                            "and",
                            ["=", ["trusted", "extensions", "pp_role"], f"role{r}"],
                            [">=", ["fact", "processors", "count"], 1],
                        ],
                        classes={
                            f"profile::role{r}": {"listen_port": 8000 + r, "dc": f"dc{d}"},
                            "ntp": {"servers": [f"ntp.r{r}.dc{d}"]},
                        },
                        variables={"role": f"role{r}"},
                    ),
                )
            )
    k = 0
    while len(rows) < total:
        d, r, parent = roles[k % len(roles)]
        leaf = (k // len(roles)) % len(leaf_rules)
        add(
            f"dc{d} role{r} leaf{leaf}",
            parent,
            leaf_rules[leaf](d, r),
            pinned=[f"bench-{(k * 97) % 50000:05d}.example"],
            classes={f"profile::leaf{leaf}": {"enabled": True, "weight": leaf}},
            variables={f"leaf{leaf}": True},
        )
        k += 1
    return rows


def seed_groups(total: int) -> int:
    rows = group_rows(total)
    # Check the set with the resolver before writing it: no node may be in a conflict.
    snapshot = resolver.compile_snapshot(0, [{"id": str(ROOT_ID), "name": "All nodes", "parent_id": None}, *rows])
    with transaction.atomic():
        state = ClassificationState.objects.select_for_update().get(id=1)
        # Delete leaves first (PROTECT on parent).
        while NodeGroup.objects.exclude(id=ROOT_ID).exists():
            NodeGroup.objects.exclude(id=ROOT_ID).filter(children__isnull=True).delete()
        NodeGroup.objects.bulk_create(
            [
                NodeGroup(
                    id=row["id"],
                    name=row["name"],
                    parent_id=row["parent_id"],
                    rule=row["rule"],
                    pinned=row.get("pinned", []),
                    classes=row.get("classes", {}),
                    variables=row.get("variables", {}),
                    environment=row.get("environment", ""),
                    environment_trumps=row.get("environment_trumps", False),
                )
                for row in rows
            ]
        )
        state.version += 1
        state.save()
        AuditEntry.objects.create(
            version=state.version,
            actor="bench-seed",
            action="create",
            group_id=ROOT_ID,
            group_name="(bench seed)",
            changed_fields=["groups"],
            before=None,
            after={"groups": len(rows)},
        )
    conflicts = 0
    keys = store.snapshot_fact_keys(snapshot)
    for n, (certname, facts, trusted) in enumerate(store.known_nodes(keys)):
        if n % 50 == 0 and resolver.classify(snapshot, certname, facts, trusted).conflicts:
            conflicts += 1
    print(f"seeded {len(rows)} groups (version {state.version}); sampled nodes in conflict: {conflicts}", flush=True)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--token-file", default="/tmp/stagehand-enc-bench.token")
    parser.add_argument("--body-file", default="/tmp/stagehand-enc-bench-body.json")
    parser.add_argument("--skip-nodes", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    facts = template()
    if not args.skip_nodes:
        seed_nodes(args.nodes, facts)
    seed_groups(args.groups)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    _, raw = ApiToken.issue(user=user, name="enc bench", scopes=["classify"])
    Path(args.token_file).write_text(raw)
    body = dict(
        facts,
        datacenter="dc3",
        tier="prod",
        memorysize_mb="65536",
        bench_tags=["tag3", "all"],
        processors={"count": 4, "physicalcount": 1},
    )
    # An old producer timestamp: the POSTed facts classify but are not stored (stored ones are newer).
    Path(args.body_file).write_text(
        json.dumps(
            {
                "facts": body,
                "trusted": {"certname": "x", "extensions": {"pp_role": "role3"}},
                "producer_timestamp": "2020-01-01T00:00:00.000Z",
            }
        )
    )
    print(
        f"POST body: {len(body)} top-level facts, {Path(args.body_file).stat().st_size} bytes; "
        f"done in {time.monotonic() - started:.1f}s",
        flush=True,
    )


if __name__ == "__main__":
    main()
