"""Fleet-wide evaluation (enc.fleet) against the reference: every node's FULL fact document
evaluated by enc.rules / enc.resolver. Members (every page), previews and the save-time conflict
check must give exactly what full-factset evaluation gives, over fixtures covering every
operator, missing paths, JSON null, arrays and array indexes (including segments PostgreSQL's
``#>`` would read differently: "-1", " 1", "+1"), numeric strings, booleans, hashes, trusted
facts that are not a hash, facts split between stable and volatile, nodes without facts,
pinned, deactivated and expired nodes; and they stay exact after facts, nodes and groups change.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from django.db import connection, transaction

from enc import fleet, resolver, rules, service, store
from enc.models import ROOT_ID, ClassificationState, NodeGroup
from inventory.models import Factset, Node

ROOT = str(ROOT_ID)
STAMP = datetime(2026, 1, 1, tzinfo=UTC)

# (certname, stable, volatile); trusted lives in the facts as "trusted". None: no factset.
FLEET = [
    ("web01.example.com", {"role": "web", "cores": "8", "mem": 16384, "env": "prod", "tags": ["a", "b", 3]}, {}),
    ("web02.example.com", {"role": "web", "cores": 4, "mem": "2048", "env": "prod", "tags": ["b"]}, {"uptime": 5}),
    ("web03.example.com", {"role": "web", "cores": "4.0", "mem": " 12 ", "env": "stage", "tags": "a"}, {}),
    ("db01.example.com", {"role": "db", "cores": 16, "mem": 65536.5, "env": "prod", "tags": [1, "3", True]}, {}),
    ("db02.example.com", {"role": "db", "cores": "sixteen", "mem": True, "env": "dev", "tags": []}, {}),
    ("db03.example.com", {"role": None, "cores": None, "env": "prod", "tags": None}, {}),
    ("app01.example.com", {"role": ["web", "db"], "cores": [8], "env": {"name": "prod"}}, {}),
    ("app02.example.com", {"role": {"web": True}, "virtual": "true", "flag": False}, {"cores": 2}),
    ("app03.example.com", {"virtual": True, "flag": "false", "count": 0, "zero": "0"}, {"role": "web"}),
    ("odd01.example.com", {"disks": ["sda", "sdb", "sdc"], "nested": {"0": "zero", "-1": "neg"}}, {}),
    ("odd02.example.com", {"disks": {"0": "sdz", "1": "sdy", " 1": "space", "+1": "plus", "-1": "minus"}}, {}),
    ("odd03.example.com", {"disks": "sda", "nested": [["x", "y"], {"k": "v"}]}, {}),
    ("odd04.example.com", {"disks": [], "nested": {"a": {"b": {"c": 7}}}}, {}),
    ("odd05.example.com", {"disks": [None, "sdb"], "nested": [{"b": None}]}, {}),
    ("bare01.example.com", None, None),
    ("empty01.example.com", {}, {}),
]
TRUSTED = {
    "web01.example.com": {"certname": "web01.example.com", "extensions": {"pp_role": "web", "pp_zone": "1"}},
    "web02.example.com": {"certname": "web02.example.com", "extensions": {"pp_role": "web", "pp_zone": 2}},
    "db01.example.com": {"certname": "db01.example.com", "extensions": {"pp_role": "db", "list": ["a", "b"]}},
    "app01.example.com": ["not", "a", "hash"],  # the trusted fact is not a hash: trusted is {}
    "app02.example.com": "text",
    "odd01.example.com": {"extensions": {"pp_role": ["x"]}, "0": "key zero"},
}
INACTIVE = {"db02.example.com": "deactivated", "web03.example.com": "expired"}

FIELDS = [
    "name",
    ["fact", "role"],
    ["fact", "cores"],
    ["fact", "mem"],
    ["fact", "env"],
    ["fact", "env", "name"],
    ["fact", "tags"],
    ["fact", "virtual"],
    ["fact", "flag"],
    ["fact", "count"],
    ["fact", "zero"],
    ["fact", "uptime"],
    ["fact", "disks", 0],
    ["fact", "disks", "1"],
    ["fact", "disks", "-1"],
    ["fact", "disks", " 1"],
    ["fact", "disks", "+1"],
    ["fact", "disks", "01"],
    ["fact", "nested", "0"],
    ["fact", "nested", "-1"],
    ["fact", "nested", 0, 1],
    ["fact", "nested", "a", "b", "c"],
    ["fact", "nested", 0, "b"],
    ["fact", "trusted", "0"],
    ["fact", "missing", "deeper"],
    ["trusted", "extensions", "pp_role"],
    ["trusted", "extensions", "pp_zone"],
    ["trusted", "extensions", "list"],
    ["trusted", "0"],
    ["trusted", "certname"],
]
VALUES = ["web", "8", 8, 8.0, "4", 2048, "true", True, False, "false", 0, "0", "a", 3, "3", "sdb", "x", "zero", "neg"]
NUMERIC = [4, "8", 8.5, "2048", 0, -1]


def leaf_rules() -> list:
    out = []
    for field in FIELDS:
        for op in ("=", "!=", "<:", "/:"):
            for value in VALUES:
                out.append([op, field, value])
        for op in ("~", "!~"):
            for value in ("^web", "b", "^\\d+$", "^(true|false)$", "sd[a-c]", "^$", "."):
                out.append([op, field, value])
        for op in ("<", "<=", ">", ">="):
            for value in NUMERIC:
                out.append([op, field, value])
    return [r for r in out if not rules.validate(r)]


def make_fleet() -> None:
    for certname, stable, volatile in FLEET:
        node = Node.objects.create(certname=certname, facts_timestamp=STAMP, facts_producer_timestamp=STAMP)
        if stable is None:
            continue
        stable = dict(stable)
        if certname in TRUSTED:
            stable["trusted"] = TRUSTED[certname]
        Factset.objects.create(
            node=node, timestamp=STAMP, producer_timestamp=STAMP, hash="x", stable=stable, volatile=volatile
        )
    Node.objects.filter(certname="db02.example.com").update(deactivated=STAMP)
    Node.objects.filter(certname="web03.example.com").update(expired=STAMP)


def full_nodes(active_only: bool = True) -> list[tuple]:
    """The reference input: every node's whole fact document (stable || volatile)."""
    where = "WHERE n.deactivated IS NULL AND n.expired IS NULL" if active_only else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.certname, (f.stable || f.volatile)::text FROM inventory_node n "  # noqa: S608
            f"LEFT JOIN inventory_factset f ON f.node_id = n.id {where} ORDER BY n.certname"
        )
        rows = cursor.fetchall()
    out = []
    for certname, text in rows:
        facts = orjson.loads(text) if text else {}
        trusted = facts.get("trusted")
        out.append((certname, facts, trusted if isinstance(trusted, dict) else {}))
    return out


def all_members(group_id, page: int = 3) -> tuple[int, list[str]]:
    """Every page of the members list, following the keyset cursor."""
    names, after, count = [], None, None
    while True:
        result = service.members(group_id, limit=page, after=after)
        count = result["count"] if count is None else count
        assert result["count"] == count
        names.extend(result["nodes"])
        after = result["next_after"]
        if after is None:
            return count, names


def expected_members(snapshot) -> dict[str, list[str]]:
    out = {gid: [] for gid in snapshot.groups}
    for certname, facts, trusted in full_nodes():
        for group in resolver.matched_groups(snapshot, certname, facts, trusted):
            out[group.id].append(certname)
    return out


def assert_members_exact() -> None:
    snapshot = store.load_snapshot()
    expected = expected_members(snapshot)
    for gid, names in expected.items():
        assert all_members(gid) == (len(names), sorted(names)), snapshot.groups[gid].name


def tree(groups: list[dict]) -> dict:
    made = {}
    for spec in groups:
        spec = dict(spec)
        spec["parent"] = str(made[spec["parent"]].id) if spec.get("parent") else ROOT
        made[spec["name"]] = service.create_group(spec, actor="test")
    return made


GROUPS = [
    {"name": "prod", "rule": ["=", ["fact", "env"], "prod"], "variables": {"tier": "prod"}},
    {
        "name": "web",
        "parent": "prod",
        "rule": ["or", ["~", "name", "^web"], ["=", ["trusted", "extensions", "pp_role"], "web"]],
        "pinned": ["db01.example.com"],
        "classes": {"nginx": {"workers": 4}},
    },
    {
        "name": "big web",
        "parent": "web",
        "rule": ["and", [">=", ["fact", "cores"], 8], ["not", ["<:", ["fact", "tags"], "b"]]],
        "classes": {"nginx": {"workers": 16}},
    },
    {"name": "numeric", "rule": ["or", ["<", ["fact", "mem"], 4096], ["=", ["fact", "cores"], "4"]]},
    {"name": "disks", "rule": ["or", ["=", ["fact", "disks", "-1"], "minus"], ["=", ["fact", "disks", 0], "sda"]]},
    {"name": "odd index", "parent": "disks", "rule": ["!=", ["fact", "disks", " 1"], "space"]},
    {"name": "trusted0", "rule": ["=", ["trusted", "0"], "key zero"], "pinned": ["bare01.example.com"]},
    {"name": "pinned only", "pinned": ["db02.example.com", "bare01.example.com", "nosuch.example.com"]},
    {"name": "negations", "rule": ["and", ["!~", ["fact", "role"], "^w"], ["/:", ["fact", "tags"], 3]]},
]


@pytest.fixture
def fleet_groups(db):
    make_fleet()
    return tree(GROUPS)


@pytest.mark.django_db
def test_projection_paths_stop_where_sql_and_python_could_differ():
    assert fleet.covering_path(["fact", "disks", 0, "x"]) == ("fact", "disks", "0", "x")
    assert fleet.covering_path(["fact", "disks", "-1", "x"]) == ("fact", "disks")
    assert fleet.covering_path(["fact", "a", " 1"]) == ("fact", "a")
    assert fleet.covering_path(["trusted", "extensions", "pp_role"]) == ("trusted", "extensions", "pp_role")
    assert fleet.covering_path("name") is None
    assert fleet.minimal([("fact", "a", "b"), ("fact", "a"), ("trusted", "a", "b")]) == [
        ("fact", "a"),
        ("trusted", "a", "b"),
    ]


@pytest.mark.django_db
def test_members_are_exactly_full_factset_membership(fleet_groups):
    assert_members_exact()
    web = all_members(fleet_groups["web"].id)[1]
    assert "db01.example.com" in web  # pinned, and in prod
    assert "db02.example.com" not in all_members(fleet_groups["pinned only"].id)[1]  # deactivated
    assert all_members(fleet_groups["pinned only"].id) == (1, ["bare01.example.com"])
    assert service.members(ROOT, limit=5)["count"] == len(FLEET) - len(INACTIVE)


@pytest.mark.django_db
def test_preview_of_every_operator_matches_full_factset_evaluation(fleet_groups):
    nodes = full_nodes()
    snapshot = store.load_snapshot()
    parents = [None, ROOT, str(fleet_groups["prod"].id), str(fleet_groups["web"].id)]
    checked = 0
    for i, rule in enumerate(leaf_rules()):
        match = rules.compile_rule(rule)
        parent_id = parents[i % len(parents)]
        pinned = ["db03.example.com", "nosuch.example.com"] if i % 7 == 0 else []
        parent = snapshot.groups[parent_id] if parent_id else None
        expected = [
            c
            for c, f, t in nodes
            if (parent is None or resolver.member_of(snapshot, parent, c, f, t)) and (c in pinned or match(c, f, t))
        ]
        got = service.preview(rule, parent_id=parent_id, pinned=pinned, limit=1000)
        assert (got["count"], got["nodes"]) == (len(expected), expected), (rule, parent_id)
        checked += 1
    assert checked > 1000
    combined = [
        "and",
        ["or", ["~", "name", "^db"], [">", ["fact", "cores"], 4]],
        ["not", ["=", ["fact", "env"], "dev"]],
    ]
    expected = [c for c, f, t in nodes if rules.evaluate(combined, c, f, t)]
    assert service.preview(combined)["nodes"] == expected and expected
    assert service.preview(None, pinned=["web01.example.com", "db02.example.com"])["nodes"] == ["web01.example.com"]


def reference_conflicts(change) -> tuple[list, object]:
    """What the full-factset check says about ``change`` (applied with the ORM, rolled back)."""
    old = store.load_snapshot()

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            changed_id = change()
            new = store.load_snapshot()
            raise Rollback
    except Rollback:
        pass
    return resolver.new_conflicts(old, new, full_nodes(), {changed_id}), changed_id


def service_conflicts(apply) -> list:
    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            apply()
            raise Rollback
    except Rollback:
        return []
    except service.ChangeRefused as exc:
        return exc.affected


def _delete(group):
    def orm():
        NodeGroup.objects.filter(id=group.id).delete()
        return str(group.id)

    return orm, lambda: service.delete_group(group.id, actor="test")


def _update(group, **fields):
    def orm():
        NodeGroup.objects.filter(id=group.id).update(**fields)
        return str(group.id)

    data = {("parent" if k == "parent_id" else k): (str(v) if k == "parent_id" else v) for k, v in fields.items()}
    return orm, lambda: service.update_group(group.id, data, actor="test")


@pytest.mark.django_db
def test_save_time_conflicts_match_full_factset_check(fleet_groups):
    g = fleet_groups
    changes = [
        # a sibling branch setting nginx::workers differently for web nodes
        _update(g["numeric"], classes={"nginx": {"workers": 2}}),
        # a rule change that brings nodes into a conflict
        _update(g["disks"], classes={"nginx": {"workers": 1}}, rule=["~", "name", "."]),
        # variables colliding with prod's "tier"
        _update(g["negations"], variables={"tier": "other"}),
        _update(g["trusted0"], variables={"tier": "prod"}),  # same value: no conflict
        # moving a group under another branch
        _update(g["big web"], parent_id=g["numeric"].id),
        # a pinned node
        _update(g["pinned only"], pinned=["web01.example.com"], variables={"tier": "x"}),
        # environment groups on two branches
        _update(g["prod"], environment="production", environment_trumps=True),
        # the root (every node is in it)
        _update(NodeGroup.objects.get(id=ROOT_ID), variables={"tier": "root"}, classes={"nginx": {"workers": 0}}),
        _delete(g["big web"]),
    ]
    refused = 0
    for orm, real in changes:
        expected, _ = reference_conflicts(orm)
        got = service_conflicts(real)
        assert got == expected
        refused += bool(expected)
    assert refused >= 4
    # a new group and a deletion exposing a conflict
    create = {"name": "new", "parent": ROOT, "rule": ["<:", ["fact", "tags"], "b"], "variables": {"tier": "t"}}

    def orm_create():
        return str(
            NodeGroup.objects.create(name="new", parent_id=ROOT_ID, rule=create["rule"], variables={"tier": "t"}).id
        )

    def without_ids(affected):  # the created group gets a new id each time
        return [
            {**a, "conflicts": [{**c, "groups": [{**x, "id": None} for x in c["groups"]]} for c in a["conflicts"]]}
            for a in affected
        ]

    expected, _ = reference_conflicts(orm_create)
    got = service_conflicts(lambda: service.create_group(create, actor="test"))
    assert without_ids(got) == without_ids(expected) and expected
    # members stay exact after refused and accepted changes
    service.update_group(g["negations"].id, {"rule": [">", ["fact", "cores"], "2"]}, actor="test")
    service.update_group(g["odd index"].id, {"parent": str(g["prod"].id)}, actor="test")
    service.delete_group(g["big web"].id, actor="test")
    assert_members_exact()


@pytest.mark.django_db
def test_members_follow_fact_node_and_outside_changes(fleet_groups):
    assert_members_exact()
    # facts change (ORM update, the ENC's store_facts), nodes come, go, deactivate, reactivate
    Factset.objects.filter(node__certname="db01.example.com").update(stable={"env": "prod", "role": "web"})
    store.store_facts(
        "web02.example.com", {"env": "dev", "cores": 64}, producer_timestamp=datetime.now(UTC), environment=None
    )
    store.store_facts("new01.example.com", {"env": "prod"}, producer_timestamp=STAMP, environment=None)
    Node.objects.filter(certname="db02.example.com").update(deactivated=None)
    Node.objects.filter(certname="odd01.example.com").delete()
    Factset.objects.filter(node__certname="odd02.example.com").delete()
    assert_members_exact()
    # a change not made through enc.service (a restore, a seed script): rebuilt on the next read
    NodeGroup.objects.filter(id=fleet_groups["web"].id).update(rule=["=", ["fact", "role"], "web"])
    ClassificationState.objects.filter(id=1).update(version=99)
    assert_members_exact()
    assert service.members(fleet_groups["web"].id)["version"] == 99


@pytest.mark.django_db
def test_unknown_group_and_bad_cursor(fleet_groups):
    with pytest.raises(service.NotFound):
        service.members("00000000-0000-4000-8000-00000000ffff")
    with pytest.raises(service.NotFound):
        service.members("not-a-uuid")
    assert service.members(fleet_groups["web"].id, after="zzz")["nodes"] == []


@pytest.mark.django_db
def test_members_api_pages_with_keyset_cursor(fleet_groups):
    from tests.integration.enc_fixtures import api_client

    client = api_client(["read"])
    url = f"/api/v1/groups/{fleet_groups['prod'].id}/nodes/"
    expected = all_members(fleet_groups["prod"].id)[1]
    pages, after = [], ""
    while after is not None:
        body = client.get(url, {"limit": 2, "after": after}).json()
        assert body["count"] == len(expected) and len(body["nodes"]) <= 2
        pages.extend(body["nodes"])
        after = body["next_after"]
    assert pages == expected
    assert client.get("/api/v1/groups/not-a-uuid/nodes/").status_code == 404


@pytest.mark.django_db
def test_facts_written_during_a_refresh_are_picked_up_by_the_next(fleet_groups, monkeypatch):
    assert_members_exact()
    Factset.objects.filter(node__certname="db03.example.com").update(stable={"env": "prod"})
    recompute = fleet._recompute_nodes

    def write_meanwhile(*args, **kwargs):
        recompute(*args, **kwargs)
        # a write after the refresh read its entries and the facts: its entry must stay
        Factset.objects.filter(node__certname="db03.example.com").update(stable={"env": "dev"})

    monkeypatch.setattr(fleet, "_recompute_nodes", write_meanwhile)
    fleet.sync()
    monkeypatch.setattr(fleet, "_recompute_nodes", recompute)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM enc_fleetdirty")
        assert cursor.fetchone()[0] == 1
    assert_members_exact()
    assert "db03.example.com" not in all_members(fleet_groups["prod"].id)[1]


@pytest.mark.django_db
def test_housekeeping_task_folds_changed_facts_in(fleet_groups, settings):
    from enc import tasks

    assert "stagehand.housekeeping.enc_fleet_sync" in settings.CELERY_BEAT_SCHEDULE
    assert_members_exact()
    Factset.objects.filter(node__certname="db03.example.com").update(stable={"env": "dev"})
    tasks.enc_fleet_sync.apply()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM enc_fleetdirty")
        assert cursor.fetchone()[0] == 0
    assert "db03.example.com" not in all_members(fleet_groups["prod"].id)[1]
    assert_members_exact()
