"""API token pages: create (secret shown once, scopes capped by role), list, revoke."""

import pytest
from django.contrib.auth.models import Group, User

from api.models import ApiToken, hash_token


def _create(client, **data):
    return client.post("/tokens/", {"name": "deploy", "expires": "", **data})


@pytest.mark.django_db
def test_viewer_creates_a_read_token_and_sees_the_secret_once(viewer_client, viewer):
    response = _create(viewer_client, scopes=["read"])
    assert response.status_code == 200
    token = ApiToken.objects.get(user=viewer)
    assert token.scopes == ["read"] and token.name == "deploy"
    secret = response.context["created"]["secret"]
    assert secret.encode() in response.content
    assert token.key_hash == hash_token(secret)
    assert ApiToken.authenticate(secret) == token
    listing = viewer_client.get("/tokens/")
    assert listing.status_code == 200
    assert token.key_prefix.encode() in listing.content
    assert secret.encode() not in listing.content  # never shown again


@pytest.mark.django_db
def test_scopes_beyond_the_role_are_refused_and_nothing_is_stored(client, viewer, editor):
    client.force_login(viewer)
    response = _create(client, scopes=["read", "write"])
    assert response.status_code == 400
    assert b"may not grant write" in response.content
    client.force_login(editor)
    editor_client = client
    response = _create(editor_client, scopes=["admin"])
    assert response.status_code == 400
    response = _create(editor_client, scopes=[])
    assert response.status_code == 400
    response = _create(editor_client, scopes=["read"], expires="7")
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
    assert _create(editor_client, scopes=["write", "classify"], expires="30").status_code == 200
    token = ApiToken.objects.get()
    assert token.scopes == ["classify", "write"] and token.expires is not None


@pytest.mark.django_db
def test_users_see_and_revoke_only_their_own_tokens_admins_all(client, viewer, editor):
    mine, _ = ApiToken.issue(user=viewer, name="mine", scopes=["read"])
    theirs, _ = ApiToken.issue(user=editor, name="theirs", scopes=["read"])
    client.force_login(viewer)
    page = client.get("/tokens/")
    assert b"mine" in page.content and b"theirs" not in page.content
    assert client.post(f"/tokens/{theirs.id}/revoke/").status_code == 404
    assert client.post(f"/tokens/{mine.id}/revoke/").status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked is not None and theirs.revoked is None
    assert client.get(f"/tokens/{theirs.id}/revoke/").status_code == 405  # POST only
    boss = User.objects.create_user("boss", password="pw")
    boss.groups.add(Group.objects.get(name="admin"))
    client.force_login(boss)
    page = client.get("/tokens/?revoked=1")
    assert b"mine" in page.content and b"theirs" in page.content
    assert client.post(f"/tokens/{theirs.id}/revoke/").status_code == 302
    theirs.refresh_from_db()
    assert theirs.revoked is not None
    assert _create(client, scopes=["admin"]).status_code == 200


@pytest.mark.django_db
def test_token_pages_need_sign_in(client):
    assert client.get("/tokens/").status_code == 302
    assert client.post("/tokens/", {"name": "x", "scopes": ["read"]}).status_code in (302, 401)
    assert not ApiToken.objects.exists()
