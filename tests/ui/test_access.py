"""Sign-in and roles: every UI page needs a signed-in user with a role; changes need editor."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.urls import get_resolver, reverse

from inventory.ui.access import CONTENT_SECURITY_POLICY, has_role, user_role


def _ui_urls():
    """One concrete URL per UI route (the node routes get a certname)."""
    resolver = get_resolver()
    urls = []
    for name in [
        "dashboard",
        "nodes",
        "facts",
        "fact",
        "where_applied",
        "reports",
        "inbox",
        "inbox_replay",
        "tokens",
    ]:
        urls.append(reverse(f"ui:{name}"))
    for name in ["node", "node_facts", "node_resources", "node_catalogs", "node_events"]:
        urls.append(reverse(f"ui:{name}", args=["web01.example.com"]))
    urls.append(reverse("ui:report", args=[1]))
    urls.append(reverse("ui:command", args=[1]))
    for name in ["classification", "enc_audit", "enc_group_new", "enc_preview"]:
        urls.append(reverse(f"ui:{name}"))
    for name in ["enc_group", "enc_members", "enc_members_list", "enc_group_edit", "enc_group_delete"]:
        urls.append(reverse(f"ui:{name}", args=["00000000-0000-4000-8000-000000000000"]))
    assert resolver  # the URLconf loads
    return urls


@pytest.mark.django_db
def test_roles_exist_after_migrate():
    assert set(Group.objects.filter(name__in=["viewer", "editor", "admin"]).values_list("name", flat=True)) == {
        "viewer",
        "editor",
        "admin",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("url", _ui_urls())
def test_every_page_redirects_anonymous_users_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_signed_in_user_without_role_is_refused(client):
    user = User.objects.create_user("norole", password="x")
    client.force_login(user)
    response = client.get(reverse("ui:dashboard"))
    assert response.status_code == 403
    assert b"needs the viewer role" in response.content
    assert b"set_role norole viewer" in response.content


@pytest.mark.django_db
def test_login_flow_and_security_headers(client, viewer):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert page["X-Frame-Options"] == "DENY"
    bad = client.post("/accounts/login/", {"username": "vera", "password": "wrong"})
    assert bad.status_code == 200 and b"did not match" in bad.content
    good = client.post("/accounts/login/", {"username": "vera", "password": "pw-vera", "next": "/nodes/"})
    assert good.status_code == 302 and good["Location"] == "/nodes/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "script-src 'self'" in dashboard["Content-Security-Policy"]
    assert dashboard["Cache-Control"] == "private, no-cache"
    out = client.post("/accounts/logout/")
    assert out.status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_role_ranks_and_set_role_command(capsys):
    user = User.objects.create_user("sam", password="x")
    assert user_role(user) is None
    call_command("set_role", "sam", "editor")
    user = User.objects.get(pk=user.pk)
    assert user_role(user) == "editor"
    assert has_role(user, "viewer") and has_role(user, "editor") and not has_role(user, "admin")
    call_command("set_role", "sam", "admin")
    user = User.objects.get(pk=user.pk)
    assert user_role(user) == "admin" and list(user.groups.values_list("name", flat=True)) == ["admin"]
    admin = User.objects.create_superuser("root", password="x")
    assert user_role(admin) == "admin"


@pytest.mark.django_db
def test_viewer_cannot_replay(viewer_client):
    response = viewer_client.post(reverse("ui:inbox_replay"), {"ids": ["1"]})
    assert response.status_code == 403
    assert b"needs the editor role" in response.content


@pytest.mark.django_db
def test_replay_needs_csrf_token(viewer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    assert client.post(reverse("ui:inbox_replay"), {"ids": ["1"]}).status_code == 403
