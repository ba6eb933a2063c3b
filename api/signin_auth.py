"""Sign-in throttling wired into Django's authentication (``api.signin_throttle`` does the counting).

``ThrottleBackend`` comes first in ``AUTHENTICATION_BACKENDS``: for a locked-out user name or
address it stops ``authenticate()`` (``PermissionDenied``) before the password is checked, and
leaves the lockout on the request for the sign-in page to explain. Failed sign-ins are counted
from ``user_login_failed``, successful ones clear their failures from ``user_logged_in``. Every
password sign-in that passes the request to ``authenticate()`` — the UI's and the admin's login
forms — is covered; ``authenticate()`` calls without a request (management commands) are not.
"""

from __future__ import annotations

import ipaddress

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.utils import timezone

from api import signin_throttle
from config.security import client_ip

LOCKOUT_ATTR = "stagehand_signin_lockout"
UNKNOWN_ADDRESS = "0.0.0.0"


def client_address(request) -> str:
    """The client address the throttle counts: ``config.security.client_ip`` (a trusted proxy's
    forwarded address), else the peer's address when what was forwarded is not an IP address."""
    for candidate in (client_ip(request), request.META.get("REMOTE_ADDR", "")):
        try:
            return str(ipaddress.ip_address(candidate.strip()))
        except ValueError:
            continue
    return UNKNOWN_ADDRESS  # e.g. a unix socket without a proxy header: every client shares it


class ThrottleBackend:
    """Authenticates nobody; refuses sign-ins while a lockout is in force. (No ``get_user``: it
    never owns a session, and ``Client.force_login`` skips it.)"""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or username is None:
            return None
        lockout = signin_throttle.check(username, client_address(request), timezone.now())
        if lockout is not None:
            setattr(request, LOCKOUT_ATTR, lockout)
            raise PermissionDenied(lockout.message(timezone.now()))
        return None


def lockout_of(request):
    return getattr(request, LOCKOUT_ATTR, None)


@receiver(user_login_failed, dispatch_uid="stagehand-signin-failed")
def _failed(sender, credentials, request=None, **kwargs):
    if request is None or lockout_of(request) is not None:
        return  # no client to count, or refused while locked out (not counted)
    lockout = signin_throttle.record_failure(credentials.get("username", ""), client_address(request), timezone.now())
    if lockout is not None:
        setattr(request, LOCKOUT_ATTR, lockout)


@receiver(user_logged_in, dispatch_uid="stagehand-signin-succeeded")
def _succeeded(sender, request, user, **kwargs):
    if request is not None:
        signin_throttle.clear(user.get_username(), client_address(request))
