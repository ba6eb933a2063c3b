"""API token pages: every signed-in user manages their own tokens, admins everyone's.

The scopes a user may put on a token are capped by their UI role, so a token never gives more
than its owner has: viewer -> read; editor -> read, write, classify; admin -> every scope.
The secret is shown once, on the page that created it; only its hash is stored.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from api import tokens
from api.models import ApiToken, Scope
from inventory.ui import paging
from inventory.ui.access import has_role, ui_view, user_role
from inventory.ui.common import render_page

ROLE_SCOPES = {
    "viewer": [Scope.READ],
    "editor": [Scope.READ, Scope.WRITE, Scope.CLASSIFY],
    "admin": list(Scope.values),
}
EXPIRY_DAYS = {"": None, "30": 30, "90": 90, "365": 365}
SORT = paging.Sort("created", "id", descending=True, nullable=False)
PAGE_SIZE = 50


def allowed_scopes(user) -> list[str]:
    return [str(s) for s in ROLE_SCOPES.get(user_role(user) or "", [])]


def _visible(request):
    qs = ApiToken.objects.select_related("user")
    return qs if has_role(request.user, "admin") else qs.filter(user=request.user)


@ui_view()
def token_list(request):
    errors: list[str] = []
    created = None
    if request.method == "POST":
        name = (request.POST.get("name") or "").strip()
        scopes = request.POST.getlist("scopes")
        expiry = request.POST.get("expires", "")
        allowed = allowed_scopes(request.user)
        if expiry not in EXPIRY_DAYS:
            errors.append(f"expiry must be one of {sorted(k or 'never' for k in EXPIRY_DAYS)}")
        beyond = sorted(set(scopes) - set(allowed))
        if beyond:
            errors.append(f"your role may not grant {', '.join(beyond)} (allowed: {', '.join(allowed)})")
        if not errors:
            days = EXPIRY_DAYS[expiry]
            try:
                token, raw = tokens.create_token(
                    username=request.user.get_username(),
                    name=name,
                    scopes=scopes,
                    expires_in=dt.timedelta(days=days) if days else None,
                )
                created = {"token": token, "secret": raw}
            except tokens.TokenError as exc:
                errors.append(str(exc))
    show_revoked = request.GET.get("revoked") == "1"
    qs = _visible(request)
    if not show_revoked:
        qs = qs.filter(revoked__isnull=True)
    rows, pager = paging.paged(request, qs, SORT, PAGE_SIZE, errors)
    context = {
        "rows": rows,
        "pager": pager,
        "errors": errors,
        "created": created,
        "allowed": allowed_scopes(request.user),
        "all_scopes": list(Scope.values),
        "show_revoked": show_revoked,
        "is_admin": has_role(request.user, "admin"),
        "form": request.POST if errors else {},
    }
    return render_page(request, "api/tokens.html", context, "tokens", status=400 if errors else 200)


@require_POST
@ui_view()
def token_revoke(request, token_id: int):
    token = get_object_or_404(_visible(request), pk=token_id)
    if token.revoked is None:
        token.revoke()
        messages.success(request, f"Token {token.name!r} ({token.key_prefix}…) revoked.")
    return redirect("ui:tokens")
