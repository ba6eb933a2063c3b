"""Who may see and do what in the web UI.

Three roles, stored as Django groups (created by migration ``inventory.0002_ui_roles``):

* ``viewer``: every page, read-only.
* ``editor``: viewer + changes (replay inbox commands, edit classification).
* ``admin``: editor + user management in the Django admin. Superusers are admins.

A signed-in user in none of these groups sees nothing but a "no role" page (secure default).
"""

from __future__ import annotations

import functools
import time

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse

ROLES = ("viewer", "editor", "admin")
_RANK = {name: rank for rank, name in enumerate(ROLES, start=1)}

# Content-Security-Policy for every UI page: nothing but Stagehand's own files, no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def user_role(user) -> str | None:
    """The highest role of ``user`` (None when signed out or in no role group)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return "admin"
    cached = getattr(user, "_stagehand_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    role = max(names, key=_RANK.__getitem__) if names else None
    user._stagehand_role = role
    return role


def has_role(user, role: str) -> bool:
    current = user_role(user)
    return current is not None and _RANK[current] >= _RANK[role]


def secure_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "private, no-cache")
    return response


def _has_nul(request) -> bool:
    sources = [request.GET] + ([request.POST] if request.method == "POST" else [])
    for data in sources:
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    return "\x00" in request.path


def forbidden(request, reason: str):
    return TemplateResponse(
        request, "inventory/no_role.html", {"reason": reason, "ui_role": user_role(request.user)}, status=403
    ).render()


def ui_view(role: str = "viewer"):
    """Decorate a UI view: sign-in required, then ``role`` (or higher), then security headers."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            request._ui_started = time.perf_counter()
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, role):
                return secure_headers(forbidden(request, f"This page needs the {role} role."))
            if _has_nul(request):
                # PostgreSQL text cannot hold NUL characters: refuse before any query sees one.
                return secure_headers(HttpResponseBadRequest("NUL characters are not allowed in parameters."))
            return secure_headers(view(request, *args, **kwargs))

        wrapper.ui_role = role
        return wrapper

    return decorator
