"""Classification pages: the group tree, a group, editing with validation, preview and the
conflict check before saving, the audit log, and the node page's classification panel."""

import json

import pytest

from enc import service
from enc.models import ROOT_ID, AuditEntry, NodeGroup

BUDGET = {"tree": 6, "group": 8, "audit": 6, "members": 10}


@pytest.fixture
def groups(fleet, editor):
    debian = service.create_group(
        {
            "name": "Debian",
            "parent": str(ROOT_ID),
            "rule": ["=", ["fact", "os", "family"], "Debian"],
            "classes": {"ntp": {"servers": ["a.pool"]}},
        },
        actor="setup",
    )
    web = service.create_group(
        {"name": "Web", "parent": str(debian.id), "rule": ["~", "name", "^web"], "classes": {"nginx": {}}},
        actor="setup",
    )
    return {"debian": debian, "web": web}


def _form(group, **changes):
    values = {
        "name": group.name,
        "description": group.description,
        "parent": str(group.parent_id),
        "environment": group.environment,
        "rule": json.dumps(group.rule) if group.rule is not None else "",
        "pinned": "\n".join(group.pinned),
        "classes": json.dumps(group.classes),
        "variables": json.dumps(group.variables),
    }
    values.update(changes)
    return values


@pytest.mark.django_db
def test_group_tree_and_group_page(viewer_client, groups, django_assert_max_num_queries):
    with django_assert_max_num_queries(BUDGET["tree"]):
        page = viewer_client.get("/classification/")
    assert page.status_code == 200
    names = [(row["group"].name, row["depth"]) for row in page.context["rows"]]
    assert names == [("All nodes", 0), ("Debian", 1), ("Web", 2)]
    assert b"New group" not in page.content  # viewers do not edit
    with django_assert_max_num_queries(BUDGET["group"]):
        page = viewer_client.get(f"/classification/{groups['debian'].id}/")
    assert page.status_code == 200 and b"a.pool" in page.content
    assert page.context["translated"] is not None  # the rule as a PuppetDB query
    viewer_client.get(f"/classification/{groups['web'].id}/members/")  # first read builds the membership
    with django_assert_max_num_queries(BUDGET["members"]):
        page = viewer_client.get(f"/classification/{groups['web'].id}/members/")
    assert page.status_code == 200 and b"web01.example.com" in page.content  # rendered with the page
    assert page.context["result"]["count"] == 2
    members = viewer_client.get(f"/classification/{groups['web'].id}/members/list/")
    assert members.context["result"]["nodes"] == ["web01.example.com", "web02.example.com"]
    assert b"<html" not in members.content
    assert viewer_client.get("/classification/not-a-uuid/").status_code == 404
    assert viewer_client.get(f"/classification/{groups['web'].id}/edit/").status_code == 403


@pytest.mark.django_db
def test_edit_validates_fields_and_stores_nothing(editor_client, groups):
    web = groups["web"]
    response = editor_client.post(
        f"/classification/{web.id}/edit/",
        _form(web, rule='["=", ["fact"', classes='{"Not A Class": {}}', action="save"),
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.context["errors"]["rule"][0]
    response = editor_client.post(
        f"/classification/{web.id}/edit/", _form(web, classes='{"Not A Class": {}}', action="save")
    )
    assert response.status_code == 400
    assert "not a valid class name" in response.context["errors"]["classes"][0]
    assert NodeGroup.objects.get(id=web.id).classes == {"nginx": {}}


@pytest.mark.django_db
def test_check_shows_preview_and_conflicts_before_saving(editor_client, groups, django_assert_max_num_queries):
    web, debian = groups["web"], groups["debian"]
    version_before = AuditEntry.objects.count()
    # A harmless change: checked, previewed, not saved.
    response = editor_client.post(
        f"/classification/{web.id}/edit/", _form(web, rule='["~", "name", "^web01"]', action="check")
    )
    assert response.status_code == 200 and response.context["checked"]
    assert response.context["preview"]["nodes"] == ["web01.example.com"]
    assert NodeGroup.objects.get(id=web.id).rule == ["~", "name", "^web"]
    # A conflicting change: a sibling under Debian that sets ntp's servers differently for web nodes.
    other = service.create_group(
        {
            "name": "Other",
            "parent": str(debian.id),
            "rule": ["~", "name", "^db"],
            "classes": {"ntp": {"servers": ["b"]}},
        },
        actor="setup",
    )
    conflicting = _form(web, classes=json.dumps({"nginx": {}, "ntp": {"servers": ["c"]}}))
    conflicting["name"] = "Web"
    other_form = _form(other, rule='["~", "name", "^web"]', action="check")
    response = editor_client.post(f"/classification/{other.id}/edit/", other_form)
    assert response.status_code == 200  # no conflict yet: Web does not set ntp
    editor_client.post(f"/classification/{web.id}/edit/", {**conflicting, "action": "save"})
    response = editor_client.post(f"/classification/{other.id}/edit/", other_form)
    assert response.status_code == 409
    assert "classification conflict" in response.context["refusal"]["message"]
    assert {a["certname"] for a in response.context["refusal"]["affected"]} == {
        "web01.example.com",
        "web02.example.com",
    }
    # Saving the same change is refused too, and nothing changes.
    response = editor_client.post(f"/classification/{other.id}/edit/", {**other_form, "action": "save"})
    assert response.status_code == 409
    assert NodeGroup.objects.get(id=other.id).rule == ["~", "name", "^db"]
    assert AuditEntry.objects.count() == version_before + 2  # Other created, Web saved


@pytest.mark.django_db
def test_save_create_delete_and_audit(editor_client, groups, django_assert_max_num_queries):
    debian = groups["debian"]
    form = {
        "name": "Databases",
        "parent": str(debian.id),
        "rule": '["~", "name", "^db"]',
        "pinned": "app01.example.com\n",
        "classes": '{"postgresql::server": {"port": 5432}}',
        "variables": '{"tier": "data"}',
        "environment": "",
        "action": "save",
    }
    response = editor_client.post("/classification/new/", form)
    assert response.status_code == 302
    group = NodeGroup.objects.get(name="Databases")
    assert group.pinned == ["app01.example.com"] and group.classes == {"postgresql::server": {"port": 5432}}
    members = editor_client.get(f"/classification/{group.id}/members/list/").context["result"]["nodes"]
    assert members == ["app01.example.com", "db01.example.com"]  # db02 is RedHat: not in Debian
    entry = AuditEntry.objects.order_by("-id").first()
    assert (entry.actor, entry.action, entry.group_name) == ("eddie", "create", "Databases")
    with django_assert_max_num_queries(BUDGET["audit"]):
        page = editor_client.get("/classification/audit/?group=Databases")
    assert [a.action for a in page.context["rows"]] == ["create"]
    response = editor_client.post(f"/classification/{debian.id}/delete/", follow=True)
    assert b"has child groups" in response.content
    response = editor_client.post(f"/classification/{group.id}/delete/")
    assert response.status_code == 302 and not NodeGroup.objects.filter(name="Databases").exists()


@pytest.mark.django_db
def test_live_preview_fragment(editor_client, groups):
    response = editor_client.post(
        "/classification/preview/", {"rule": '["=", ["fact", "os", "family"], "RedHat"]', "parent": str(ROOT_ID)}
    )
    assert response.status_code == 200
    assert b"db02.example.com" in response.content and b"<html" not in response.content
    response = editor_client.post("/classification/preview/", {"rule": '["==", "name", "x"]', "parent": str(ROOT_ID)})
    assert b'class="error"' in response.content


@pytest.mark.django_db
def test_members_pages_with_keyset_cursor(viewer_client, groups, monkeypatch, django_assert_max_num_queries):
    from enc.ui import views

    monkeypatch.setattr(views, "MEMBERS_PAGE", 2)
    root = f"/classification/{ROOT_ID}/members/"
    first = viewer_client.get(root)
    result = first.context["result"]
    assert result["nodes"] == ["app01.example.com", "db01.example.com"] and result["count"] > 2
    assert first.context["next_url"] == "?after=db01.example.com" and b'rel="next"' in first.content
    with django_assert_max_num_queries(BUDGET["members"]):
        second = viewer_client.get(root + first.context["next_url"])
    assert second.context["result"]["nodes"][0] > "db01.example.com"
    assert second.context["first_url"] == "?"
    last = viewer_client.get(root + "?after=zzz")
    assert last.context["result"]["nodes"] == [] and b"No more nodes." in last.content


@pytest.mark.django_db
def test_node_page_shows_classification(viewer_client, groups):
    page = viewer_client.get("/nodes/web01.example.com/")
    body = page.content.decode()
    assert "Classification" in body and ">Web</a>" in body and "nginx" in body
