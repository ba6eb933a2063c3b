"""The webhook pages of the web UI (admin role): register (secret shown once), act, deliveries."""

import pytest
from django.contrib.auth.models import Group, User

from reports.orchestration import webhooks
from reports.orchestration.models import Webhook, WebhookDelivery
from tests.hooks.receiver import Receiver


def signed_in(client, role):
    user = User.objects.create_user(f"u-{role}", password="pw")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    client.force_login(user)
    return user


@pytest.mark.django_db(transaction=True)
def test_register_ping_disable_enable_and_see_deliveries(client):
    signed_in(client, "admin")
    assert 'href="/rollout/webhooks/"' in client.get("/rollout/").content.decode()
    bad = client.post("/rollout/webhooks/", {"name": "x", "url": "ftp://nowhere", "statuses": ["purple"]})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Enter a valid URL" in html and "not a valid choice" in html and not Webhook.objects.exists()
    with Receiver([], then=204) as receiver:
        page = client.post(
            "/rollout/webhooks/",
            {
                "name": "chat",
                "url": receiver.url,
                "kinds": ["report_stored"],
                "statuses": ["failed"],
                "environments": "production, staging",
            },
        )
        assert page.status_code == 200
        hook = Webhook.objects.get()
        html = page.content.decode()
        assert hook.secret in html and "shown only now" in html
        assert hook.environments == ["production", "staging"] and hook.kinds == ["report_stored"]
        assert hook.secret not in client.get(f"/rollout/webhooks/{hook.pk}/").content.decode()
        assert client.post(f"/rollout/webhooks/{hook.pk}/ping").status_code == 302
        delivery = WebhookDelivery.objects.get(webhook=hook)
        assert webhooks.attempt(delivery.pk) is None  # what the Celery task does
    detail = client.get(f"/rollout/webhooks/{hook.pk}/").content.decode()
    assert "succeeded" in detail and "ping" in detail
    attempt_page = client.get(f"/rollout/webhooks/{hook.pk}/deliveries/{delivery.uuid}/").content.decode()
    assert "204" in attempt_page and "&quot;kind&quot;:&quot;ping&quot;" in attempt_page
    client.post(f"/rollout/webhooks/{hook.pk}/disable")
    hook.refresh_from_db()
    assert not hook.enabled and hook.disabled_reason == "disabled by u-admin"
    assert "disabled by u-admin" in client.get("/rollout/webhooks/").content.decode()
    client.post(f"/rollout/webhooks/{hook.pk}/enable")
    hook.refresh_from_db()
    assert hook.enabled and hook.disabled_reason == ""
    old_secret = hook.secret
    rotated = client.post(f"/rollout/webhooks/{hook.pk}/rotate").content.decode()
    hook.refresh_from_db()
    assert hook.secret != old_secret and hook.secret in rotated
    assert client.post(f"/rollout/webhooks/{hook.pk}/delete").status_code == 302
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_webhook_pages_need_the_admin_role(client):
    hook = Webhook.objects.create(name="h", url="http://127.0.0.1:9/", secret="s" * 20)
    assert client.get("/rollout/webhooks/").status_code == 302  # sign in first
    signed_in(client, "editor")
    assert client.get("/rollout/webhooks/").status_code == 403
    assert client.get(f"/rollout/webhooks/{hook.pk}/").status_code == 403
    assert client.post(f"/rollout/webhooks/{hook.pk}/delete").status_code == 403
    assert Webhook.objects.filter(pk=hook.pk).exists()
    assert client.get("/rollout/").status_code == 200


@pytest.mark.django_db
def test_hook_pages_pass_the_ui_markup_checks(client):
    """The UI's own markup rules (tests/ui/test_markup.py): one h1, labelled controls, table
    headers, titled charts, no inline script or style."""
    from tests.hooks.factory import store_catalog, store_report
    from tests.ui.test_markup import _check

    store_catalog("m1.example", code_id="c1")
    store_report("m1.example", status="failed", code_id="c1")
    signed_in(client, "admin")
    hook = Webhook.objects.create(name="h", url="http://127.0.0.1:9/", secret="s" * 20)
    delivery = webhooks.ping(hook)
    urls = [
        "/rollout/",
        "/rollout/?env=production",
        "/rollout/webhooks/",
        f"/rollout/webhooks/{hook.pk}/",
        f"/rollout/webhooks/{hook.pk}/deliveries/{delivery.uuid}/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        page = _check(response.content.decode(), url)
        if url == "/rollout/webhooks/":
            assert len(page.controls) >= 8  # the registration form was checked
        if url == "/rollout/":
            assert len(page.svgs) == 1
