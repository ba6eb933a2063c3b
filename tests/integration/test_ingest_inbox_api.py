"""The inbox API: list and filter commands, replay dead ones (admin scope)."""

import pytest
from django.contrib.auth import get_user_model

from api.models import ApiToken
from ingest.models import Command

pytestmark = pytest.mark.django_db


def _token(scopes):
    user = get_user_model().objects.create_user(f"u-{'-'.join(scopes)}")
    return ApiToken.issue(user=user, name="t", scopes=scopes)[1]


def test_list_filter_and_replay(client):
    Command.objects.create(command="replace_facts", version=5, certname="a", payload=b"{}", state="done")
    dead = Command.objects.create(
        command="replace_facts", version=5, certname="b", payload=b"{}", state="dead", attempts=8, last_error="boom"
    )
    read = _token(["read"])
    admin = _token(["admin"])
    assert client.get("/api/v1/inbox/commands/").status_code in (401, 403)
    resp = client.get("/api/v1/inbox/commands/?state=dead", HTTP_AUTHORIZATION=f"Bearer {read}")
    assert resp.status_code == 200
    rows = resp.json()["results"] if isinstance(resp.json(), dict) else resp.json()
    assert [r["certname"] for r in rows] == ["b"] and rows[0]["last_error"] == "boom"
    detail = client.get(f"/api/v1/inbox/commands/{dead.uuid}/", HTTP_AUTHORIZATION=f"Bearer {read}")
    assert detail.status_code == 200 and detail.json()["attempts"] == 8
    # Replaying needs the admin scope.
    url = "/api/v1/inbox/commands/replay/"
    assert (
        client.post(
            url, {"ids": [dead.id]}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read}"
        ).status_code
        == 403
    )
    bad = client.post(url, {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {admin}")
    assert bad.status_code == 400 and "ids" in str(bad.json())
    ok = client.post(url, {"ids": [dead.id]}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {admin}")
    assert ok.status_code == 200 and ok.json() == {"replayed": 1}
    dead.refresh_from_db()
    assert dead.state == "pending" and dead.attempts == 0
    # Only dead commands are replayed.
    one = client.post(f"/api/v1/inbox/commands/{dead.uuid}/replay/", HTTP_AUTHORIZATION=f"Bearer {admin}")
    assert one.status_code == 409
