"""API tokens: issued once, stored hashed, scoped, revocable."""

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from api.authentication import token_from_headers
from api.models import ApiToken, hash_token


@pytest.mark.django_db
def test_issue_authenticate_scope_and_revoke():
    user = get_user_model().objects.create_user("ops")
    token, raw = ApiToken.issue(user=user, name="puppetboard", scopes=["read"])
    assert raw.startswith("sth_") and token.key_hash == hash_token(raw)
    assert raw not in {token.key_hash, token.key_prefix}
    found = ApiToken.authenticate(raw)
    assert found == token and found.last_used is not None
    assert token.allows("read") and not token.allows("write")
    assert ApiToken.authenticate(raw + "x") is None
    token.revoke()
    assert ApiToken.authenticate(raw) is None
    admin_token, _ = ApiToken.issue(user=user, name="all", scopes=["admin"])
    assert admin_token.allows("write") and admin_token.allows("classify")
    with pytest.raises(ValueError, match="unknown"):
        ApiToken.issue(user=user, name="bad", scopes=["root"])


@pytest.mark.django_db
def test_authenticate_refuses_expired_tokens_and_inactive_users_and_loads_the_user():
    import datetime as dt

    from django.utils import timezone

    user = get_user_model().objects.create_user("ci", email="ci@example.invalid")
    token, raw = ApiToken.issue(user=user, name="ci", scopes=["read", "write"])
    found = ApiToken.authenticate(raw)
    assert found.pk == token.pk and found.scopes == ["read", "write"] and found.name == "ci"
    assert found.user.pk == user.pk and found.user.email == "ci@example.invalid"  # loaded with the token
    soon, soon_raw = ApiToken.issue(
        user=user, name="later", scopes=["read"], expires=timezone.now() + dt.timedelta(hours=1)
    )
    _, gone_raw = ApiToken.issue(
        user=user, name="gone", scopes=["read"], expires=timezone.now() - dt.timedelta(seconds=1)
    )
    assert ApiToken.authenticate(gone_raw) is None
    assert ApiToken.authenticate(soon_raw).pk == soon.pk  # not expired yet
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert ApiToken.authenticate(raw) is None


@pytest.mark.django_db
def test_a_token_request_to_the_native_api_looks_the_token_up_once(client, django_assert_num_queries):
    user = get_user_model().objects.create_user("reader")
    _, raw = ApiToken.issue(user=user, name="reader", scopes=["read"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    with override_settings(ROOT_URLCONF="config.urls.web"):
        client.get("/api/v1/environments/", **headers)  # the first use records last_used (one write)
        with django_assert_num_queries(2):  # the token (with its user), the environments page
            assert client.get("/api/v1/environments/", **headers).status_code == 200


def test_token_header_forms():
    assert token_from_headers({"Authorization": "Bearer abc"}) == "abc"
    assert token_from_headers({"Authorization": "Token abc"}) == "abc"
    assert token_from_headers({"X-Authentication": "abc"}) == "abc"
    assert token_from_headers({"Authorization": "Basic abc"}) is None
    assert token_from_headers({}) is None


@pytest.mark.django_db
def test_schema_view_requires_credentials(client):
    with override_settings(ROOT_URLCONF="config.urls.web"):
        assert client.get("/api/schema/").status_code in (401, 403)
        user = get_user_model().objects.create_user("reader")
        _, raw = ApiToken.issue(user=user, name="r", scopes=["read"])
        assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
