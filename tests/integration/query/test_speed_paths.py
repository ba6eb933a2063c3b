"""The alternative SQL the compiler and where_applied choose for speed give the same answers as
the plain forms, over the fixture fleet (the speed itself is measured by bench/query only)."""

import datetime as dt
import re

import pytest

import inventory.query as query
import inventory.where_applied as wa
from inventory.models import Node
from inventory.query import build, node_queryset, run_rows
from tests.support import fleet

MIXED = [
    'facts.os.family = "Debian" and status = failed',
    'facts.os.family = "RedHat" and environment = production',
    "facts.processors.count = 4 and status = unchanged",
    'trusted.extensions.pp_role = "web" and status = changed',
    'facts.role = "db" and (status = failed or status = unchanged)',
    '!(facts.os.family = "Debian") and environment = staging',
]


def certnames(qs):
    return sorted(qs.values_list("certname", flat=True))


def expected(cond):
    """The same condition evaluated in Python over the fleet's commands (latest facts, latest
    report of each active node)."""
    facts, status, env = {}, {}, {}
    for c in fleet.fleet_commands():
        if c["command"] == "replace facts":
            facts[c["certname"]] = c["payload"]["values"]
        elif c["command"] == "store report":
            status[c["certname"]] = c["payload"]["status"]
            env[c["certname"]] = c["payload"]["environment"]
    return sorted(n for n in facts if n not in fleet.DEACTIVATED and cond(facts[n], status[n], env[n]))


@pytest.mark.parametrize("text", MIXED)
def test_fact_conditions_agree_with_and_without_the_gin_index(fleet_db, monkeypatch, text):
    scanned = certnames(node_queryset(text))  # few nodes: facts tested node by node
    monkeypatch.setattr(query, "FACT_SCAN_LIMIT", -1)  # always through the GIN index
    indexed = certnames(node_queryset(text))
    assert scanned == indexed


def test_fact_condition_answers(fleet_db):
    got = certnames(node_queryset('facts.os.family = "RedHat" and environment = production'))
    assert got == expected(lambda f, s, e: f["os"]["family"] == "RedHat" and e == "production")
    assert got  # the fleet has such nodes
    got = certnames(node_queryset("facts.processors.count = 4 and status = unchanged"))
    assert got == expected(lambda f, s, e: f["processors"]["count"] == 4 and s == "unchanged")


def test_fact_scan_path_is_taken_for_few_nodes(fleet_db, monkeypatch):
    """With few nodes selected by the other conditions the SQL carries no indexable containment."""
    seen = []
    real = query.Compiler.containment

    def spy(self, contain, value):
        seen.append(self.fact_index)
        return real(self, contain, value)

    monkeypatch.setattr(query.Compiler, "containment", spy)
    list(node_queryset('facts.os.family = "Debian" and status = failed'))
    assert seen == [False]
    seen.clear()
    list(node_queryset('facts.os.family = "Debian"'))  # nothing else to start from
    assert seen == [True]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"class_name": "apache"},
        {"class_name": "nginx", "at": (fleet.BASE + dt.timedelta(hours=1)).isoformat()},
        {"resource_type": "Package", "title": "openssh-server"},
        {"resource_type": "File", "parameter": "ensure", "value": "file"},
        {"resource_type": "Package"},
    ],
)
def test_where_applied_direct_and_set_paths_agree(fleet_db, monkeypatch, kwargs):
    direct = wa.where_applied(**kwargs)
    assert direct
    monkeypatch.setattr(wa, "MAX_DIRECT", 0)  # always through the list of resource sets
    via_sets = wa.where_applied(**kwargs)
    assert direct == via_sets


def test_reports_skip_the_node_join_only_when_no_node_column_is_used(fleet_db):
    plain = build("reports", ["=", "environment", "production"])
    assert "inventory_node" not in plain.sql.split(" WHERE ")[0]
    latest = build("reports", ["and", ["=", "environment", "production"], ["=", "latest_report?", True]])
    assert "JOIN inventory_node n" in latest.sql
    rows = run_rows(plain)
    assert (
        len(rows)
        == run_rows(build("reports", ["extract", [["function", "count"]], ["=", "environment", "production"]]))[0][
            "count"
        ]
    )
    latest_rows = run_rows(latest)
    prod_nodes = Node.objects.filter(report_environment__name="production").count()  # inactive too
    assert 0 < len(latest_rows) == prod_nodes < len(rows)


def test_catalog_resource_count_is_kept_by_the_database(fleet_db):
    from inventory.models import Catalog

    catalogs = list(Catalog.objects.select_related("resource_set"))
    assert catalogs and all(c.resource_count == c.resource_set.size for c in catalogs)
    counted = run_rows(build("resources", ["extract", [["function", "count"]], ["=", "environment", "production"]]))
    listed = run_rows(build("resources", ["=", "environment", "production"]))
    assert counted[0]["count"] == len(listed) > 0


def test_where_applied_restores_the_parallel_setting(fleet_db):
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_parallel_workers_per_gather')")
        before = cursor.fetchone()[0]
        assert wa.where_applied(class_name="apache")
        cursor.execute("SELECT current_setting('max_parallel_workers_per_gather')")
        assert cursor.fetchone()[0] == before


EV_FIELDS = ["certname", "status", "timestamp", "resource_type", "resource_title", "property", "environment"]
EVENT_QUERIES = [
    ["extract", EV_FIELDS, ["=", "status", "failure"]],
    ["extract", EV_FIELDS, ["=", "latest_report?", True]],
    ["extract", EV_FIELDS, ["and", ["=", "resource_type", "File"], ["=", "latest_report?", False]]],
    ["extract", [["function", "count"], "status"], ["~", "certname", "."], ["group_by", "status"]],
]


@pytest.mark.parametrize("q", EVENT_QUERIES)
def test_events_without_the_report_join_agree_with_it(fleet_db, monkeypatch, q):
    import inventory.query.compiler as compiler

    lean = build("events", q)
    assert "reports_report" not in lean.sql  # none of these reads a report column
    fast = run_rows(lean)
    assert fast
    monkeypatch.setattr(compiler, "_REPORT_COLUMN", compiler.re.compile(""))  # as if a report column were read
    joined = build("events", q)
    assert "JOIN reports_report r" in joined.sql
    key = lambda row: sorted((k, str(v)) for k, v in row.items())  # noqa: E731
    assert sorted(fast, key=key) == sorted(run_rows(joined), key=key)


def test_events_reading_a_report_column_keep_the_join(fleet_db):
    compiled = build("events", ["=", "configuration_version", "x"])
    assert "JOIN reports_report r" in compiled.sql
    assert build("events", None).sql.count("JOIN reports_report r") == 1  # all fields: report hash, run times


IMPLICIT = [
    ("nodes", ["subquery", "resources", ["and", ["=", "type", "Class"], ["=", "title", "Apache"]]]),
    ("nodes", ["subquery", "facts", ["and", ["=", "name", "role"], ["=", "value", "db"]]]),
    ("facts", ["and", ["=", "name", "kernel"], ["subquery", "reports", ["=", "status", "failed"]]]),
    ("reports", ["subquery", "catalogs", ["=", "environment", "production"]]),
    ("events", ["subquery", "nodes", ["=", ["fact", "role"], "web"]]),
]


@pytest.mark.parametrize(("entity", "q"), IMPLICIT)
def test_implicit_certname_subqueries_by_node_id_agree_with_by_certname(fleet_db, monkeypatch, entity, q):
    from inventory.query import entities as E

    by_id = build(entity, q)
    assert "IN (SELECT" in by_id.sql and "certname) IN" not in by_id.sql
    fast = run_rows(by_id)
    assert fast
    monkeypatch.setattr(E, "NODE_KEY", "no such field")  # relate by certname, as written
    by_name = build(entity, q)
    assert "certname) IN" in by_name.sql
    key = lambda row: sorted((k, str(v)) for k, v in row.items())  # noqa: E731
    assert sorted(fast, key=key) == sorted(run_rows(by_name), key=key)


def test_factset_certname_is_kept_by_the_database(fleet_db):
    from django.db import connection

    from inventory.models import Factset

    assert all(fs.certname == fs.node.certname for fs in Factset.objects.select_related("node"))
    node = Node.objects.filter(factset__isnull=False).first()
    Factset.objects.filter(node=node).update(certname="forged")  # whatever a writer passes
    assert Factset.objects.get(node=node).certname == node.certname
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_node SET certname = certname || '.renamed' WHERE id = %s", [node.id])
    assert Factset.objects.get(node=node).certname == node.certname + ".renamed"


@pytest.mark.parametrize("entity", ["inventory", "facts", "fact_contents", "factsets", "package_inventory"])
def test_factset_entities_output_certnames_without_the_node_row(fleet_db, entity):
    compiled = build(entity, ["extract", ["certname"], ["~", "certname", "."]])
    assert "inventory_node n " not in compiled.sql  # only the anti-join on inactive nodes
    got = {row["certname"] for row in run_rows(compiled)}
    active = set(Node.objects.filter(deactivated__isnull=True, expired__isnull=True).values_list("certname", flat=True))
    assert got and got <= active
    if entity in ("inventory", "facts", "factsets"):
        assert got == active & set(Node.objects.filter(factset__isnull=False).values_list("certname", flat=True))


def test_factset_node_active_is_kept_by_the_database(fleet_db):
    """fs.node_active follows the node's deactivated/expired through every path: a state change
    of the node, a factset written for an inactive node, and a writer passing another value."""
    from django.db import connection
    from django.utils import timezone

    from inventory.models import Factset

    def flag(node):
        return Factset.objects.get(node=node).node_active

    assert all(
        fs.node_active == (fs.node.deactivated is None and fs.node.expired is None)
        for fs in Factset.objects.select_related("node")
    )
    node = Node.objects.filter(factset__isnull=False, deactivated__isnull=True, expired__isnull=True).first()
    Node.objects.filter(id=node.id).update(deactivated=timezone.now())
    assert flag(node) is False
    Factset.objects.filter(node=node).update(node_active=True)  # whatever a writer passes
    assert flag(node) is False
    Node.objects.filter(id=node.id).update(deactivated=None, expired=timezone.now())
    assert flag(node) is False
    Node.objects.filter(id=node.id).update(expired=None)
    assert flag(node) is True
    with connection.cursor() as cursor:  # a factset stored for a node that is inactive already
        cursor.execute("UPDATE inventory_node SET deactivated = now() WHERE id = %s", [node.id])
        row = Factset.objects.filter(node=node).values().get()
        cursor.execute("DELETE FROM inventory_factset WHERE node_id = %s", [node.id])
    Factset.objects.create(**{k: v for k, v in row.items() if k not in ("certname", "node_active")})
    assert flag(node) is False


@pytest.mark.parametrize("entity", ["inventory", "facts", "fact_contents", "factsets"])
def test_factset_entities_test_the_active_flag_and_agree_with_the_node_row(fleet_db, monkeypatch, entity):
    from django.utils import timezone

    node = Node.objects.filter(factset__isnull=False, deactivated__isnull=True, expired__isnull=True).first()
    Node.objects.filter(id=node.id).update(expired=timezone.now())
    q = ["extract", ["certname"], ["~", "certname", "."]]
    compiled = build(entity, q)
    assert "fs.node_active" in compiled.sql and "xn.deactivated" not in compiled.sql
    fast = {row["certname"] for row in run_rows(compiled)}
    assert node.certname not in fast
    # The same query reading the node row (the join kept) answers the same.
    monkeypatch.setattr(query.compiler.E, "NODE_JOIN", re.compile(r"(?!)"))
    slow = {row["certname"] for row in run_rows(build(entity, q))}
    assert fast == slow


def _members():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT resource_id, set_id FROM inventory_classmember")
        members = set(cursor.fetchall())
        cursor.execute(
            "SELECT DISTINCT r.id, rs.id FROM inventory_resourceset rs, unnest(rs.resource_ids) AS u(rid) "
            "JOIN inventory_resource r ON r.id = u.rid AND r.type = 'Class'"
        )
        return members, set(cursor.fetchall())


def test_class_members_are_kept_by_the_database(fleet_db):
    from django.db import connection, transaction

    from inventory.models import Resource, ResourceSet

    members, expected = _members()
    assert members and members == expected
    a_class = Resource.objects.filter(type="Class").first()
    other = Resource.objects.exclude(type="Class").first()
    spare = ResourceSet.objects.create(hash=b"spare-set", resource_ids=[a_class.id, other.id], size=2)
    members, expected = _members()
    assert (a_class.id, spare.id) in members and (other.id, spare.id) not in members and members == expected
    ResourceSet.objects.filter(id=spare.id).update(resource_ids=[other.id])
    members, expected = _members()
    assert all(s != spare.id for _r, s in members) and members == expected
    ResourceSet.objects.filter(id=spare.id).update(resource_ids=[a_class.id])
    assert (a_class.id, spare.id) in _members()[0]
    spare.delete()
    members, expected = _members()
    assert all(s != spare.id for _r, s in members) and members == expected

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the ORM's deferred checks, before TRUNCATE
        cursor.execute("TRUNCATE inventory_resourceset CASCADE")
        assert _members() == (set(), set())
        raise Rollback
    members, expected = _members()
    assert members and members == expected
    # Both tables in one statement (as bench/ingest/run.py clears the inventory): the trigger
    # finds the members already gone instead of truncating them a second time.
    with pytest.raises(Rollback), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE inventory_resourceset, inventory_classmember CASCADE")
        assert _members() == (set(), set())
        raise Rollback


CLASS_LOOKUPS = [
    ["and", ["=", "type", "Class"], ["=", "title", "Apache"]],
    ["extract", [["function", "count"]], ["and", ["=", "type", "Class"], ["=", "title", "Apache"]]],
    ["and", ["=", "type", "Class"], ["=", "tag", "apache"]],
    ["extract", ["certname", "title"], ["and", ["=", "type", "Class"], ["~", "title", "^A"]]],
    ["and", ["=", "type", "Class"], ["in", "title", ["array", ["Apache", "Nginx", "Ntp"]]]],
]


@pytest.mark.parametrize("q", CLASS_LOOKUPS)
def test_class_lookups_through_members_agree_with_the_gin_index(fleet_db, monkeypatch, q):
    from inventory.query import entities as E

    lookup = build("resources", q)
    assert "inventory_classmember" in lookup.sql
    fast = run_rows(lookup)
    monkeypatch.setattr(E, "CLASSES_LOOKUP_FROM", E.RESOURCES_LOOKUP_FROM)
    through_gin = build("resources", q)
    assert "inventory_classmember" not in through_gin.sql
    key = lambda row: sorted((k, str(v)) for k, v in row.items())  # noqa: E731
    assert fast and sorted(fast, key=key) == sorted(run_rows(through_gin), key=key)


@pytest.mark.parametrize("kwargs", [{"class_name": "apache"}, {"resource_type": "class", "title": "Apache"}])
def test_where_applied_classes_through_members_agree_with_the_sets(fleet_db, kwargs):
    from django.db import connection

    through_members = wa.where_applied(**kwargs)
    assert through_members
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE inventory_classmember RENAME TO inventory_classmember_off")
        cursor.execute(
            "CREATE TEMP VIEW inventory_classmember AS "
            "SELECT u.rid AS resource_id, rs.id AS set_id FROM inventory_resourceset rs, "
            "unnest(rs.resource_ids) AS u(rid)"
        )
        try:
            assert wa.where_applied(**kwargs) == through_members
        finally:
            cursor.execute("DROP VIEW inventory_classmember")
            cursor.execute("ALTER TABLE inventory_classmember_off RENAME TO inventory_classmember")
