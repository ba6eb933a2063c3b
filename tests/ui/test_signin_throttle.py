"""Sign-in throttle (api/signin_throttle.py, api/signin_auth.py): failed sign-ins per user name and
per client address in PostgreSQL, lockout with a message saying when to retry and a log line,
success clearing that user name's failures from that address, the client address from a trusted
proxy only, the admin's login covered too. (Bad settings stopping the process: tests/integration/test_settings.py.)"""

import datetime as dt
import logging

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from api import signin_throttle
from api.models import SignInFailure


@pytest.fixture
def limits(settings):
    settings.SIGNIN_MAX_FAILURES_PER_USER = 3
    settings.SIGNIN_MAX_FAILURES_PER_IP = 5
    settings.SIGNIN_FAILURE_WINDOW = dt.timedelta(minutes=15)
    return settings


def _sign_in(client, username, password, ip="192.0.2.10", **headers):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **headers)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_user_name_locked_out_after_the_limit_with_a_message_and_a_log_line(client, viewer, limits, caplog):
    caplog.set_level(logging.WARNING, logger="stagehand.security")
    for _ in range(2):
        response = _sign_in(client, "vera", "wrong")
        assert response.status_code == 200 and b"did not match" in response.content
    response = _sign_in(client, "vera", "wrong")  # the third failure reaches the limit
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed sign-ins for this user name. Try again in 15 minutes (after " in body
    assert 0 < int(response["Retry-After"]) <= 900
    # While locked out even the right password is refused, and the refusals are not counted.
    response = _sign_in(client, "vera", "pw-vera")
    assert response.status_code == 429 and not _signed_in(client)
    assert SignInFailure.objects.get(username="vera").failures == 3
    lockouts = [r for r in caplog.records if r.getMessage() == "sign-in locked out"]
    assert len(lockouts) == 1
    assert (lockouts[0].scope, lockouts[0].username, lockouts[0].client_ip) == ("username", "vera", "192.0.2.10")
    # The user-name limit counts every address: another one is refused too.
    assert _sign_in(client, "vera", "pw-vera", ip="198.51.100.7").status_code == 429
    # Other user names from the same address are not locked.
    User.objects.create_user("otto", password="pw-otto")
    assert _sign_in(client, "otto", "pw-otto").status_code == 302 and _signed_in(client)


@pytest.mark.django_db
def test_address_locked_out_across_user_names(client, viewer, limits):
    for i in range(5):
        response = _sign_in(client, f"guess{i}", "wrong", ip="203.0.113.9")
    assert response.status_code == 429
    assert b"Too many failed sign-ins for your address" in response.content
    # A real account from that address is refused as well; from another address it signs in.
    assert _sign_in(client, "vera", "pw-vera", ip="203.0.113.9").status_code == 429
    assert _sign_in(client, "vera", "pw-vera", ip="203.0.113.10").status_code == 302 and _signed_in(client)


@pytest.mark.django_db
def test_success_clears_the_failures_of_that_user_name_from_that_address_only(client, viewer, limits):
    _sign_in(client, "vera", "wrong")
    _sign_in(client, "vera", "wrong", ip="198.51.100.7")
    _sign_in(client, "target", "wrong")
    _sign_in(client, "target", "wrong")
    assert _sign_in(client, "vera", "pw-vera").status_code == 302
    client.logout()
    remaining = set(SignInFailure.objects.values_list("username", "ip", "failures"))
    assert remaining == {("vera", "198.51.100.7", 1), ("target", "192.0.2.10", 2)}
    # Signing in to one's own account does not wipe what the address ran up against another.
    assert _sign_in(client, "target", "wrong").status_code == 429  # target: 3 failures (user limit)
    assert _sign_in(client, "vera", "wrong").status_code == 200  # vera: 2 (one from elsewhere), address: 4
    response = _sign_in(client, "someone", "wrong")  # the address: 5
    assert response.status_code == 429 and b"for your address" in response.content


@pytest.mark.django_db
def test_lockout_ends_when_the_failures_expire(viewer, limits):
    t0 = timezone.now()
    for minute in range(3):
        lock = signin_throttle.record_failure("vera", "192.0.2.10", t0 + dt.timedelta(minutes=minute))
    assert lock is not None and lock.until == t0 + dt.timedelta(minutes=2 + 15)
    assert signin_throttle.check("vera", "192.0.2.10", t0 + dt.timedelta(minutes=16)) is not None
    # One run (each failure within the window of the one before): it expires 15 minutes after its last.
    assert signin_throttle.check("vera", "192.0.2.10", t0 + dt.timedelta(minutes=15, seconds=1)) is not None
    assert lock.retry_after(t0 + dt.timedelta(minutes=16, seconds=30)) == 30
    assert "Try again in 1 minute " in lock.message(t0 + dt.timedelta(minutes=16, seconds=30))
    assert signin_throttle.check("vera", "192.0.2.10", t0 + dt.timedelta(minutes=17, seconds=1)) is None
    # A failure after a quiet window starts a new run.
    signin_throttle.record_failure("vera", "192.0.2.10", t0 + dt.timedelta(minutes=40))
    assert list(SignInFailure.objects.values_list("failures", flat=True)) == [1]


@pytest.mark.django_db
def test_runs_from_several_addresses_add_up_and_expire_one_by_one(limits):
    t0 = timezone.now()
    signin_throttle.record_failure("vera", "192.0.2.1", t0)
    signin_throttle.record_failure("vera", "192.0.2.1", t0 + dt.timedelta(minutes=1))
    lock = signin_throttle.record_failure("vera", "192.0.2.2", t0 + dt.timedelta(minutes=10))
    # 3 failures: under 3 once the run from 192.0.2.1 (last failure at minute 1) has expired.
    assert lock.scope == "username" and lock.until == t0 + dt.timedelta(minutes=16)


@pytest.mark.django_db
def test_client_address_from_a_trusted_proxy_only(client, viewer, limits):
    limits.TRUSTED_PROXIES = ["10.9.9.9/32"]
    _sign_in(client, "vera", "wrong", ip="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.50")
    _sign_in(client, "vera", "wrong", ip="10.1.1.1", HTTP_X_FORWARDED_FOR="203.0.113.77")
    assert set(SignInFailure.objects.values_list("ip", flat=True)) == {"203.0.113.50", "10.1.1.1"}
    # A trusted proxy forwarding something that is not an address: counted under the proxy's own.
    _sign_in(client, "vera", "wrong", ip="10.9.9.9", HTTP_X_FORWARDED_FOR="unknown")
    assert SignInFailure.objects.filter(ip="10.9.9.9").exists()


@pytest.mark.django_db
def test_admin_login_is_throttled_too(client, limits):
    User.objects.create_superuser("root", password="pw-root")
    for _ in range(3):
        client.post("/admin/login/", {"username": "root", "password": "wrong"}, REMOTE_ADDR="192.0.2.20")
    response = client.post("/admin/login/", {"username": "root", "password": "pw-root"}, REMOTE_ADDR="192.0.2.20")
    assert response.status_code == 200 and not _signed_in(client)


@pytest.mark.django_db
def test_throttle_off_with_a_zero_window(client, viewer, limits):
    limits.SIGNIN_FAILURE_WINDOW = dt.timedelta(0)
    for _ in range(5):
        assert _sign_in(client, "vera", "wrong").status_code == 200
    assert not SignInFailure.objects.exists()
    assert _sign_in(client, "vera", "pw-vera").status_code == 302
