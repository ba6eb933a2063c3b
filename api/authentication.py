"""Token authentication for DRF views and plain Django views.

Clients send ``Authorization: Bearer <token>`` (or ``Token <token>``), or PuppetDB/PE's
``X-Authentication: <token>`` header.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions, permissions

from api.models import ApiToken


def token_from_headers(headers) -> str | None:
    header = headers.get("Authorization", "")
    if header:
        kind, _, value = header.partition(" ")
        if kind.lower() in ("bearer", "token") and value.strip():
            return value.strip()
    value = headers.get("X-Authentication", "").strip()
    return value or None


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = token_from_headers(request.headers)
        if raw is None:
            return None
        # The access policy middleware (config.security) has already looked this token up.
        access = getattr(request._request, "stagehand_access", None)
        checked = getattr(access, "token", None) if getattr(access, "kind", None) == "token" else None
        token = checked if checked is not None else ApiToken.authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="stagehand"'


class HasScope(permissions.BasePermission):
    """Token requests need the view's ``required_scope`` (default ``read`` for safe methods and
    ``write`` otherwise); session (UI) users need to be logged in, and staff for unsafe methods
    unless the view says otherwise."""

    def has_permission(self, request, view):
        scope = getattr(view, "required_scope", None) or (
            "read" if request.method in permissions.SAFE_METHODS else "write"
        )
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None:
            return token.allows(scope)
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or scope == "read":
            return True
        return user.is_staff
