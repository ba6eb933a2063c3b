"""The node groups management API on the web process: CRUD, validation errors, save-time
conflict checks, versioning, the audit log, rule validation/translation/preview, scopes."""

import pytest
from django.test import override_settings

from enc.models import AuditEntry, ClassificationState, NodeGroup
from tests.integration.enc_fixtures import ROOT, api_client, make_node

pytestmark = [pytest.mark.django_db, pytest.mark.urls("config.urls.web")]

URL = "/api/v1/groups/"
DEBIAN = ["=", ["fact", "os", "family"], "Debian"]


def version() -> int:
    return ClassificationState.objects.get(id=1).version


@pytest.fixture
def admin():
    return api_client(["admin"], "alice")


@pytest.fixture
def nodes():
    make_node("deb1.example", {"os": {"family": "Debian"}, "role": "web", "cores": "8"})
    make_node("deb2.example", {"os": {"family": "Debian"}, "role": "db", "cores": 2})
    make_node("rh1.example", {"os": {"family": "RedHat"}, "role": "web"})


def create(client, **data):
    data.setdefault("parent", ROOT)
    response = client.post(URL, data, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_root_exists_and_crud_bumps_version_and_audits(admin):
    listed = admin.get(URL).json()
    assert [g["name"] for g in listed["results"]] == ["All nodes"]
    v0 = version()
    g = create(admin, name="debian", rule=DEBIAN, classes={"ntp": {"servers": ["a"]}}, variables={"dc": "ams"})
    assert g["parent"] == ROOT and g["serial"] == 1 and version() == v0 + 1
    patched = admin.patch(f"{URL}{g['id']}/", {"classes": {"ntp": {"servers": ["b"]}}}, format="json")
    assert patched.status_code == 200 and patched.json()["serial"] == 2 and version() == v0 + 2
    # An edit based on an older read (its serial) is refused.
    stale = admin.patch(f"{URL}{g['id']}/", {"description": "x", "serial": 1}, format="json")
    assert stale.status_code == 409 and "changed since it was read" in stale.json()["error"]
    # A no-op update creates no version and no audit entry.
    assert admin.patch(f"{URL}{g['id']}/", {"variables": {"dc": "ams"}}, format="json").status_code == 200
    assert version() == v0 + 2
    # PUT replaces: unspecified fields go back to defaults.
    put = admin.put(f"{URL}{g['id']}/", {"name": "debian", "parent": ROOT, "rule": DEBIAN}, format="json")
    assert put.status_code == 200 and put.json()["classes"] == {} and put.json()["variables"] == {}
    assert admin.get(f"{URL}{g['id']}/").json()["rule"] == DEBIAN
    assert admin.delete(f"{URL}{g['id']}/").status_code == 204
    assert admin.get(f"{URL}{g['id']}/").status_code == 404
    assert version() == v0 + 4

    log = admin.get(f"{URL}audit/").json()["results"]
    assert [e["action"] for e in log] == ["delete", "update", "update", "create"]
    assert all(e["actor"] == "alice" and e["token"] == "alice-admin" for e in log)
    assert [e["version"] for e in log] == [v0 + 4, v0 + 3, v0 + 2, v0 + 1]
    first_update = log[2]
    assert first_update["changed_fields"] == ["classes"]
    assert first_update["before"]["classes"] == {"ntp": {"servers": ["a"]}}
    assert first_update["after"]["classes"] == {"ntp": {"servers": ["b"]}}
    assert log[0]["before"]["name"] == "debian" and log[0]["after"] is None
    assert log[3]["before"] is None and log[3]["after"]["rule"] == DEBIAN
    per_group = admin.get(f"{URL}{g['id']}/audit/").json()["results"]
    assert len(per_group) == 4
    page = admin.get(f"{URL}audit/?limit=2").json()
    assert len(page["results"]) == 2 and page["next_before"] == page["results"][-1]["id"]
    rest = admin.get(f"{URL}audit/?limit=2&before={page['next_before']}").json()["results"]
    assert [e["action"] for e in rest] == ["update", "create"]
    assert admin.get(f"{URL}audit/?group=not-a-uuid").status_code == 400
    assert admin.get(f"{URL}audit/?before=x").status_code == 400


@pytest.mark.parametrize(
    "data, field, fragment",
    [
        ({"parent": ROOT}, "name", "required"),
        ({"name": "x"}, "parent", "required"),
        ({"name": "x", "parent": "nope"}, "parent", "uuid"),
        ({"name": "x", "parent": "11111111-1111-4111-8111-111111111111"}, "parent", "no group with id"),
        ({"name": "x", "parent": ROOT, "rule": [">", ["fact", "a"], "b"]}, "rule", "compares numbers"),
        ({"name": "x", "parent": ROOT, "rule": ["=", "certname", "b"]}, "rule", 'field must be "name"'),
        ({"name": "x", "parent": ROOT, "classes": {"Bad-Class": {}}}, "classes", "not a valid class name"),
        ({"name": "x", "parent": ROOT, "classes": {"ntp": ["a"]}}, "classes", "must be an object"),
        ({"name": "x", "parent": ROOT, "variables": {"1bad": 1}}, "variables", "not a valid variable name"),
        ({"name": "x", "parent": ROOT, "environment": "no spaces"}, "environment", "environment name"),
        ({"name": "x", "parent": ROOT, "environment_trumps": True}, "environment", "must set an environment"),
        ({"name": "x", "parent": ROOT, "pinned": "a"}, "pinned", "list of certnames"),
        ({"name": "x", "parent": ROOT, "colour": "red"}, "colour", "unknown field"),
        ({"name": "All nodes", "parent": ROOT}, "name", "already exists"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(admin, data, field, fragment):
    v0 = version()
    response = admin.post(URL, data, format="json")
    assert response.status_code == 400, response.content
    messages = " ".join(response.json()["errors"][field])
    assert fragment in messages
    assert NodeGroup.objects.count() == 1 and version() == v0 and not AuditEntry.objects.exists()


def test_malformed_json_is_a_400(admin):
    response = admin.generic("POST", URL, b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert NodeGroup.objects.count() == 1


def test_tree_rules_root_and_children(admin):
    parent = create(admin, name="parent", rule=DEBIAN)
    child = create(admin, name="child", parent=parent["id"], rule=["=", ["fact", "role"], "web"])
    # A cycle is refused.
    response = admin.patch(f"{URL}{parent['id']}/", {"parent": child["id"]}, format="json")
    assert response.status_code == 400 and "cycle" in str(response.json()["errors"])
    assert admin.patch(f"{URL}{parent['id']}/", {"parent": parent["id"]}, format="json").status_code == 400
    # Deleting a group with children is refused; the root cannot be deleted or given a rule.
    response = admin.delete(f"{URL}{parent['id']}/")
    assert response.status_code == 409 and "child" in response.json()["error"]
    assert admin.delete(f"{URL}{ROOT}/").status_code == 400
    assert admin.patch(f"{URL}{ROOT}/", {"rule": DEBIAN}, format="json").status_code == 400
    # The root can carry classes for everyone.
    assert admin.patch(f"{URL}{ROOT}/", {"classes": {"base": {}}}, format="json").status_code == 200
    rules = admin.get(f"{URL}{child['id']}/rules/").json()
    assert rules["rule_with_inherited"] == ["and", DEBIAN, ["=", ["fact", "role"], "web"]]
    assert rules["translated_with_inherited"]["query"] == [
        "and",
        ["=", "facts.os.family", "Debian"],
        ["=", "facts.role", "web"],
    ]


def test_save_time_conflict_is_refused_with_the_affected_nodes(admin, nodes):
    create(admin, name="debian", rule=DEBIAN, classes={"ntp": {"servers": ["deb"]}})
    v0 = version()
    response = admin.post(
        URL,
        {"name": "web", "parent": ROOT, "rule": ["=", ["fact", "role"], "web"], "classes": {"ntp": {"servers": ["w"]}}},
        format="json",
    )
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["kind"] == "classification-conflict"
    assert [a["certname"] for a in body["affected_nodes"]] == ["deb1.example"]
    conflict = body["affected_nodes"][0]["conflicts"][0]
    assert conflict["key"] == "ntp::servers" and {g["name"] for g in conflict["groups"]} == {"debian", "web"}
    assert not NodeGroup.objects.filter(name="web").exists() and version() == v0
    # The same group restricted to RedHat nodes conflicts with no known node: accepted.
    rh_web = ["and", ["=", ["fact", "role"], "web"], ["=", ["fact", "os", "family"], "RedHat"]]
    create(admin, name="web", rule=rh_web, classes={"ntp": {"servers": ["w"]}})
    # Widening its rule later is refused the same way (update path).
    web = NodeGroup.objects.get(name="web")
    response = admin.patch(f"{URL}{web.id}/", {"rule": ["=", ["fact", "role"], "web"]}, format="json")
    assert response.status_code == 409 and response.json()["affected_nodes"][0]["certname"] == "deb1.example"
    assert NodeGroup.objects.get(name="web").rule == rh_web


def test_save_time_check_covers_deletion_exposing_a_conflict(admin, nodes):
    # A (x=1) is overridden by its child C (x=2), which agrees with B (x=2) on another branch.
    a = create(admin, name="A", rule=DEBIAN, variables={"x": 1})
    c = create(admin, name="A child", parent=a["id"], rule=DEBIAN, variables={"x": 2})
    create(admin, name="B", rule=DEBIAN, variables={"x": 2})
    # Deleting C would expose A (x=1) against B (x=2).
    response = admin.delete(f"{URL}{c['id']}/")
    assert response.status_code == 409
    assert {n["certname"] for n in response.json()["affected_nodes"]} == {"deb1.example", "deb2.example"}


def test_validate_translate_preview_and_members(admin, nodes):
    ok = admin.post(f"{URL}validate-rule/", {"rule": DEBIAN}, format="json")
    assert ok.status_code == 200 and ok.json()["valid"] is True
    bad = admin.post(f"{URL}validate-rule/", {"rule": ["~", ["fact", "a"], "("]}, format="json")
    assert bad.status_code == 400 and "invalid regular expression" in bad.json()["errors"][0]["message"]
    assert admin.post(f"{URL}validate-rule/", {}, format="json").status_code == 400

    tr = admin.post(f"{URL}translate/", {"rule": [">", ["fact", "cores"], 4]}, format="json")
    assert tr.json() == {"endpoint": "inventory", "query": [">", "facts.cores", 4]}
    assert admin.post(f"{URL}translate/", {"rule": ["<:", "name", "x"]}, format="json").status_code == 422

    preview = admin.post(f"{URL}preview/", {"rule": [">", ["fact", "cores"], 4]}, format="json").json()
    assert preview["nodes"] == ["deb1.example"] and preview["count"] == 1  # "8" is a numeric string
    deb = create(admin, name="debian", rule=DEBIAN)
    inside = admin.post(
        f"{URL}preview/",
        {"rule": ["=", ["fact", "role"], "web"], "parent": deb["id"], "pinned": ["deb2.example"]},
        format="json",
    ).json()
    assert inside["nodes"] == ["deb1.example", "deb2.example"]
    members = admin.get(f"{URL}{deb['id']}/nodes/").json()
    assert members["nodes"] == ["deb1.example", "deb2.example"] and members["count"] == 2


def test_scopes(nodes):
    reader = api_client(["read"], "reader")
    classify = api_client(["classify"], "puppetserver")
    assert reader.get(URL).status_code == 200
    assert reader.post(f"{URL}validate-rule/", {"rule": DEBIAN}, format="json").status_code == 200
    assert reader.post(URL, {"name": "x", "parent": ROOT}, format="json").status_code == 403
    assert classify.post(URL, {"name": "x", "parent": ROOT}, format="json").status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code in (401, 403)
    assert not NodeGroup.objects.filter(name="x").exists()


@override_settings(ROOT_URLCONF="config.urls.web")
def test_session_staff_user_writes_and_is_audited(client, django_user_model):
    staff = django_user_model.objects.create_user("bob", password="pw-bob-123", is_staff=True)
    client.force_login(staff)
    response = client.post(URL, {"name": "g", "parent": ROOT}, content_type="application/json")
    assert response.status_code == 201
    assert AuditEntry.objects.get().actor == "bob"
