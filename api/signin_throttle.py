"""Throttling of failed password sign-ins, per user name and per client address.

Failures are kept in PostgreSQL (``api.SignInFailure``, one row per user name and address), so
every web process and replica sees the same counts. A row counts a run of failures, each within
``SIGNIN_FAILURE_WINDOW`` of the one before; a run older than that has expired (its row starts
again at the next failure). A user name is locked out when its unexpired failures from all
addresses reach ``SIGNIN_MAX_FAILURES_PER_USER``, an address when its failures for all user names
reach ``SIGNIN_MAX_FAILURES_PER_IP``. While locked out, sign-ins are refused without looking at
the password and are not counted, so the lockout ends at a time that can be told: when enough
runs have expired to bring the count under the limit. A successful sign-in deletes the run of
that user name from that address only (signing in to one's own account from an address does not
wipe the failures the address ran up against other accounts).

Plain functions on (username, ip, now): no request or view code here. ``api.signin_auth`` plugs
them into Django's authentication (a backend that refuses locked sign-ins, and the
``user_login_failed`` / ``user_logged_in`` signals), so the UI's and the admin's sign-in pages are
both covered.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Q

from api.models import SignInFailure

log = logging.getLogger("stagehand.security")


@dataclass(frozen=True)
class Lockout:
    scope: str  # "username" or "ip"
    username: str
    ip: str
    failures: int
    until: dt.datetime

    def retry_after(self, now: dt.datetime) -> int:
        """Whole seconds until a sign-in is accepted again (at least 1)."""
        return max(1, int((self.until - now).total_seconds() + 0.999))

    def message(self, now: dt.datetime) -> str:
        minutes = -(-self.retry_after(now) // 60)
        whom = "this user name" if self.scope == "username" else "your address"
        when = f"{minutes} minute{'s' if minutes != 1 else ''}"
        return (
            f"Too many failed sign-ins for {whom}. Try again in {when} "
            f"(after {self.until.astimezone(dt.UTC):%H:%M} UTC)."
        )


def _limits() -> dict[str, int]:
    return {"username": settings.SIGNIN_MAX_FAILURES_PER_USER, "ip": settings.SIGNIN_MAX_FAILURES_PER_IP}


def normalise(username: str | None) -> str:
    return (username or "").strip()[:150]


def enabled() -> bool:
    return bool(settings.SIGNIN_FAILURE_WINDOW)


def _until(runs: list[tuple[int, dt.datetime]], limit: int, window: dt.timedelta) -> dt.datetime | None:
    """When the failures of ``runs`` (count, last failure) drop under ``limit`` as runs expire;
    None when they are under it already."""
    total = sum(count for count, _ in runs)
    if total < limit:
        return None
    for count, last in sorted(runs, key=lambda run: run[1]):
        total -= count
        if total < limit:
            return last + window
    return None  # not reached: every run expired brings the total to 0


def check(username: str, ip: str, now: dt.datetime) -> Lockout | None:
    """The lockout in force for this user name or this address, if any (one query)."""
    if not enabled():
        return None
    window = settings.SIGNIN_FAILURE_WINDOW
    username = normalise(username)
    rows = list(
        SignInFailure.objects.filter(Q(username=username) | Q(ip=ip), last_failure__gt=now - window).values_list(
            "username", "ip", "failures", "last_failure"
        )
    )
    found = []
    for scope, limit in _limits().items():
        runs = [(n, last) for u, a, n, last in rows if (u == username if scope == "username" else a == ip)]
        until = _until(runs, limit, window)
        if until is not None and until > now:
            found.append(Lockout(scope, username, ip, sum(n for n, _ in runs), until))
    return max(found, key=lambda lock: lock.until) if found else None


def record_failure(username: str, ip: str, now: dt.datetime) -> Lockout | None:
    """Count a failed sign-in; returns the lockout it starts, if it is the one that reaches a
    limit (and logs it). Expired runs of every user name are deleted on the way."""
    if not enabled():
        return None
    window = settings.SIGNIN_FAILURE_WINDOW
    username = normalise(username)
    SignInFailure.objects.filter(last_failure__lte=now - window).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO api_signinfailure AS f (username, ip, failures, first_failure, last_failure)
            VALUES (%(u)s, %(ip)s, 1, %(now)s, %(now)s)
            ON CONFLICT (username, ip) DO UPDATE SET
                failures = CASE WHEN f.last_failure <= %(start)s THEN 1 ELSE f.failures + 1 END,
                first_failure = CASE WHEN f.last_failure <= %(start)s THEN %(now)s ELSE f.first_failure END,
                last_failure = %(now)s
            """,
            {"u": username, "ip": ip, "now": now, "start": now - window},
        )
    lockout = check(username, ip, now)
    if lockout is not None:
        log.warning(
            "sign-in locked out",
            extra={
                "scope": lockout.scope,
                "username": username,
                "client_ip": ip,
                "failures": lockout.failures,
                "until": lockout.until.isoformat(),
            },
        )
    return lockout


def clear(username: str, ip: str) -> None:
    """A successful sign-in: forget the failures of this user name from this address."""
    SignInFailure.objects.filter(username=normalise(username), ip=ip).delete()
