"""Token administration, independent of the UI: create, list and revoke API tokens. The
management command ``manage.py api_token`` and the UI call these."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from api.models import ApiToken, Scope


class TokenError(ValueError):
    pass


def create_token(
    *, username: str, name: str, scopes: list[str], expires_in: dt.timedelta | None = None, create_user: bool = False
) -> tuple[ApiToken, str]:
    """Issue a token for ``username``; returns it and the raw secret (shown once, never stored)."""
    if not name.strip():
        raise TokenError("a token needs a name saying what it is for")
    unknown = set(scopes) - set(Scope.values)
    if not scopes or unknown:
        raise TokenError(f"scopes must be some of {Scope.values}, got {sorted(unknown) or scopes}")
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    if user is None:
        if not create_user:
            raise TokenError(f"no user {username!r} (create it, or pass create_user)")
        user = users.objects.create_user(username)
        user.set_unusable_password()
        user.save()
    expires = timezone.now() + expires_in if expires_in else None
    return ApiToken.issue(user=user, name=name.strip(), scopes=list(scopes), expires=expires)


def find_token(ref: str) -> ApiToken:
    """A token by id or by the prefix shown in listings (``sth_AbCdEfGh``)."""
    query = Q(key_prefix=ref) | (Q(pk=int(ref)) if ref.isdigit() else Q(pk=None))
    matches = list(ApiToken.objects.filter(query)[:2])
    if not matches:
        raise TokenError(f"no token {ref!r}")
    if len(matches) > 1:
        raise TokenError(f"{ref!r} matches several tokens; use the id")
    return matches[0]


def revoke_token(ref: str) -> ApiToken:
    token = find_token(ref)
    if token.revoked is None:
        token.revoke()
    return token


def list_tokens(username: str | None = None, include_revoked: bool = False):
    tokens = ApiToken.objects.select_related("user").order_by("-created")
    if username:
        tokens = tokens.filter(user__username=username)
    if not include_revoked:
        tokens = tokens.filter(revoked__isnull=True)
    return tokens
