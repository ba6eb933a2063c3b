"""Membership down the group tree, inheritance, overrides, conflicts, environment groups, pinned
nodes and explanations, on compiled snapshots (no database)."""

import pytest

from enc import render, resolver
from enc.resolver import SnapshotError, classify, compile_snapshot

ROOT = "00000000-0000-4000-8000-000000000000"


def group(id, name, parent=ROOT, rule=None, **kw):
    return {"id": id, "name": name, "parent_id": parent, "rule": rule, **kw}


def snap(*groups, version=7):
    root = {"id": ROOT, "name": "All nodes", "parent_id": None, "rule": None, "classes": {"base": {}}}
    return compile_snapshot(version, [root, *groups])


DEBIAN = {"os": {"family": "Debian"}, "datacenter": "ams", "role": "web"}
REDHAT = {"os": {"family": "RedHat"}, "datacenter": "fra", "role": "db"}
IS_DEBIAN = ["=", ["fact", "os", "family"], "Debian"]


def test_membership_goes_down_the_tree_and_rules_and_with_ancestors():
    s = snap(
        group("a", "debian", rule=IS_DEBIAN, classes={"apt": {}}),
        group("b", "debian web", parent="a", rule=["=", ["fact", "role"], "web"], classes={"nginx": {}}),
        group("c", "any web", rule=["=", ["fact", "role"], "web"], classes={"webcommon": {}}),
        group("d", "db under debian", parent="a", rule=["=", ["fact", "role"], "db"], classes={"pg": {}}),
    )
    names = [g.name for g in resolver.matched_groups(s, "n1", DEBIAN, {})]
    assert names == ["All nodes", "any web", "debian", "debian web"]  # parents first, siblings by name
    assert classify(s, "n1", DEBIAN).classes == {"base": {}, "apt": {}, "nginx": {}, "webcommon": {}}
    # RedHat db: not in "debian", so not in its child "db under debian" even though role=db.
    assert classify(s, "n2", REDHAT).classes == {"base": {}}


def test_inheritance_and_overrides():
    s = snap(
        group(
            "a",
            "dc",
            rule=["=", ["fact", "datacenter"], "ams"],
            classes={"ntp": {"servers": ["a"], "iburst": True}},
            variables={"dc": "ams", "tier": "gold"},
        ),
        group(
            "b",
            "dc web",
            parent="a",
            rule=["=", ["fact", "role"], "web"],
            classes={"ntp": {"servers": ["b"]}, "nginx": {"workers": 4}},
            variables={"tier": "silver"},
        ),
        group("c", "dc web canary", parent="b", pinned=["canary1"], classes={"nginx": {"workers": 8}}),
    )
    r = classify(s, "n1", DEBIAN)
    assert r.conflicts == []
    assert r.classes == {"base": {}, "ntp": {"servers": ["b"], "iburst": True}, "nginx": {"workers": 4}}
    assert r.parameters == {"dc": "ams", "tier": "silver"}
    canary = classify(s, "canary1", DEBIAN)
    assert canary.classes["nginx"] == {"workers": 8}
    # Pinned, but not in the parent: pinning does not bypass ancestors.
    assert "nginx" not in classify(s, "canary1", REDHAT).classes


def test_conflict_between_branches_names_both_groups():
    s = snap(
        group("a", "debian", rule=IS_DEBIAN, classes={"ntp": {"servers": ["deb"]}}, variables={"owner": "x"}),
        group(
            "b",
            "ams",
            rule=["=", ["fact", "datacenter"], "ams"],
            classes={"ntp": {"servers": ["ams"]}},
            variables={"owner": "x"},
        ),
    )
    r = classify(s, "n1", DEBIAN)
    assert len(r.conflicts) == 1
    conflict = r.conflicts[0]
    assert conflict["kind"] == "class parameter" and conflict["key"] == "ntp::servers"
    assert {g["name"] for g in conflict["groups"]} == {"debian", "ams"}
    assert "'debian'" in r.conflict_message() and "'ams'" in r.conflict_message()
    # Equal values on two branches are no conflict (owner), and a node in only one branch is fine.
    assert classify(s, "n2", {"os": {"family": "Debian"}}).conflicts == []


def test_a_deeper_override_resolves_a_branch_conflict_only_if_values_agree():
    s = snap(
        group("a", "A", rule=IS_DEBIAN, variables={"x": 1}),
        group("b", "B", rule=IS_DEBIAN, variables={"x": 2}),
        group("c", "A child", parent="a", rule=IS_DEBIAN, variables={"x": 2}),
    )
    # C overrides A; C and B agree.
    r = classify(s, "n", DEBIAN)
    assert r.conflicts == [] and r.parameters == {"x": 2}


def test_environment_groups():
    s = snap(
        group(
            "e1",
            "production",
            rule=["!=", ["fact", "role"], "canary"],
            environment="production",
            environment_trumps=True,
        ),
        group(
            "e2", "dev", rule=["=", ["fact", "datacenter"], "lab"], environment="development", environment_trumps=True
        ),
        group("e3", "dev one-time", parent="e2", pinned=["n9"], environment="feature_x", environment_trumps=True),
        group("c", "classification", rule=IS_DEBIAN, environment="staging"),
    )
    assert classify(s, "n1", DEBIAN).environment == "production"  # the env group wins over "staging"
    assert classify(s, "n1", DEBIAN).as_enc()["environment"] == "production"
    lab = {"datacenter": "lab", "role": "canary"}
    assert classify(s, "n2", lab).environment == "development"
    assert classify(s, "n9", lab).environment == "feature_x"  # child env group overrides its parent
    both = {"datacenter": "lab", "role": "web"}
    r = classify(s, "n3", both)
    assert r.conflicts and r.conflicts[0]["kind"] == "environment group"
    assert {g["name"] for g in r.conflicts[0]["groups"]} == {"production", "dev"}
    # No env group and no environment anywhere: none is sent.
    plain = snap(group("x", "x", rule=IS_DEBIAN, classes={"a": {}}))
    assert "environment" not in classify(plain, "n", DEBIAN).as_enc()
    assert classify(snap(group("c", "c", rule=IS_DEBIAN, environment="staging")), "n", DEBIAN).environment == "staging"


def test_pinned_nodes_and_groups_without_rules():
    s = snap(group("p", "pinned only", pinned=["a.example"], classes={"special": {}}))
    assert "special" in classify(s, "a.example", {}).classes
    assert "special" not in classify(s, "b.example", {}).classes


def test_unknown_node_gets_the_rules_that_need_no_facts():
    s = snap(group("n", "by name", rule=["~", "name", "^web"], classes={"web": {}}))
    assert classify(s, "web42", {}).classes == {"base": {}, "web": {}}


def test_trusted_facts_come_from_the_facts_document_by_default():
    s = snap(group("t", "role", rule=["=", ["trusted", "extensions", "pp_role"], "db"], classes={"pg": {}}))
    facts = {"trusted": {"extensions": {"pp_role": "db"}}}
    assert "pg" in classify(s, "n", facts).classes
    assert "pg" not in classify(s, "n", facts, {}).classes


def test_explain_says_why_and_where_values_came_from():
    s = snap(
        group("a", "debian", rule=IS_DEBIAN, classes={"ntp": {"servers": ["a"]}}),
        group("b", "debian web", parent="a", rule=["=", ["fact", "role"], "web"], classes={"ntp": {"servers": ["b"]}}),
        group("c", "redhat", rule=["=", ["fact", "os", "family"], "RedHat"]),
        group("d", "redhat child", parent="c", rule=["=", ["fact", "role"], "web"]),
    )
    out = resolver.explain(s, "n1", DEBIAN)
    by_name = {g["name"]: g for g in out["groups"]}
    assert by_name["All nodes"]["matched"] and by_name["debian web"]["matched"]
    assert by_name["redhat"]["reason"] == "rule did not match"
    assert by_name["redhat"]["because"] == [["=", ["fact", "os", "family"], "RedHat"]]
    assert by_name["redhat child"]["reason"] == "not in the parent group"
    servers = out["classes"]["ntp"]["parameters"]["servers"]
    assert servers["value"] == ["b"] and servers["groups"] == [{"id": "b", "name": "debian web"}]
    assert servers["overridden"] == [{"id": "a", "name": "debian"}]
    assert out["classification"]["classes"]["ntp"] == {"servers": ["b"]}


def test_snapshot_rejects_cycles_and_orphans():
    with pytest.raises(SnapshotError, match="cycle"):
        snap(group("a", "a", parent="b"), group("b", "b", parent="a"))
    with pytest.raises(SnapshotError, match="unknown parent"):
        snap(group("a", "a", parent="zzz"))


def test_new_conflicts_reports_only_fresh_conflicts_of_affected_nodes():
    old = snap(group("a", "A", rule=IS_DEBIAN, variables={"x": 1}))
    new = snap(group("a", "A", rule=IS_DEBIAN, variables={"x": 1}), group("b", "B", rule=IS_DEBIAN, variables={"x": 2}))
    nodes = [("deb1", DEBIAN, {}), ("rh1", REDHAT, {})]
    affected = resolver.new_conflicts(old, new, nodes, {"b"})
    assert [a["certname"] for a in affected] == ["deb1"]
    assert {g["name"] for g in affected[0]["conflicts"][0]["groups"]} == {"A", "B"}
    # A change to an unrelated group while the conflict exists does not blame that change.
    newer = snap(
        group("a", "A", rule=IS_DEBIAN, variables={"x": 1}),
        group("b", "B", rule=IS_DEBIAN, variables={"x": 2}),
        group("c", "C", rule=IS_DEBIAN, classes={"c": {}}),
    )
    assert resolver.new_conflicts(new, newer, nodes, {"c"}) == []


def test_yaml_is_plain_and_psych_safe():
    import yaml

    data = {
        "classes": {"ntp": {"servers": ["a", "b"], "flag": "yes", "count": "1,000", "sym": ":foo", "n": None}},
        "parameters": {"when": "2024-01-01", "ver": "1.0", "num": 3, "text": "héllo"},
        "environment": "production",
    }
    text = render.to_yaml(data).decode()
    assert "!!" not in text and "!ruby" not in text and "&" not in text
    assert yaml.safe_load(text) == data
    assert "'yes'" in text and '"1,000"' in text and '":foo"' in text and "'2024-01-01'" in text
    assert text.startswith("---\nclasses:\n")
