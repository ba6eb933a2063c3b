"""Shared helpers for the hooks tests: tokens, a live web process."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from api.models import ApiToken


def token(scopes=("read",), username="pipeline", staff=False) -> str:
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": staff})
    _, raw = ApiToken.issue(user=user, name=f"{username}-{'-'.join(scopes)}", scopes=list(scopes))
    return raw


def auth(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
