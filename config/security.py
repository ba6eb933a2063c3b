"""Access policy for every HTTP process: who may call which route.

Every request is given an :class:`Access` (``request.stagehand_access``): its identity and the
scopes it holds, from, in order,

1. an API token (``Authorization: Bearer``/``Token`` or ``X-Authentication``) — its scopes; a
   token that is invalid, expired or revoked is refused at once (no fallback);
2. a client certificate verified by a trusted front proxy: honoured ONLY when the TCP peer
   (``REMOTE_ADDR``) is in ``TRUSTED_PROXIES`` and the proxy says ``X-Client-Verify: SUCCESS``;
   the certname (``X-Client-Certname``, else the CN of ``X-Client-DN``) gets the scopes of the
   first matching pattern of ``CERTNAME_SCOPES`` (the allowlist; no match, no scopes). From any
   other address these headers are ignored;
3. a Django session (web UI): staff users read/write/classify, superusers also admin, other
   users read;

plus what the operator opened explicitly: ``OPEN_NETWORKS`` (client addresses that get
``OPEN_NETWORK_SCOPES`` without credentials; behind a trusted proxy the client address is the
last ``X-Forwarded-For`` hop) and ``ANONYMOUS_SCOPES`` (granted to everyone;
``PUPPETDB_API_ALLOW_ANONYMOUS=true`` adds ``read``, ``ENC_ALLOW_ANONYMOUS=true`` adds ``classify``).

Each route needs one scope (:data:`ROUTE_RULES`): health endpoints none; the PuppetDB query,
meta, status and metrics APIs ``read``; commands and report uploads ``write``; the ENC
``classify``; the PuppetDB admin API ``admin``; the UI a logged-in session. ``/api/`` and
``/admin/`` are left to DRF's permission classes and Django's admin login, which already refuse
anonymous requests. A request without the scope gets 401 (no credentials) or 403 (credentials
without the scope) as JSON, or a redirect to the login page for UI pages.

Under TLS (``request.is_secure()``, i.e. ``X-Forwarded-Proto: https`` from a trusted proxy) the
session and CSRF cookies are marked ``Secure`` and a strict Content-Security-Policy is sent.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.http import urlencode

from config.hardening import parse_certname_scopes, parse_networks

log = logging.getLogger("stagehand.security")

PUBLIC = "public"
DELEGATED = "delegated"  # the view layer enforces (DRF permissions, Django admin login)
UI = "ui"

# (path prefix, what it needs) — first match wins. Anything not listed is a UI page.
ROUTE_RULES: list[tuple[str, str]] = [
    ("/healthz", PUBLIC),
    ("/readyz", PUBLIC),
    ("/static/", PUBLIC),
    ("/favicon.ico", PUBLIC),
    ("/pdb/admin/", "admin"),
    ("/pdb/cmd/", "write"),
    ("/reports/upload", "write"),
    ("/enc/v1/client/", PUBLIC),  # the stagehand-enc script itself: no data, no secrets
    ("/enc/", "classify"),
    ("/pdb/", "read"),  # /pdb/query/v4, /pdb/meta/v1
    ("/status/", "read"),
    ("/metrics", "read"),  # Prometheus /metrics and PuppetDB's /metrics/v2
    ("/api/", DELEGATED),
    ("/admin/", DELEGATED),
]


# Routes whose views check API tokens themselves in their own (single) database lookup: the
# policy adds no token query there, attaches what it knows without one (client certificate,
# opened networks, anonymous scopes) for the view to accept, and leaves refusing to the view.
TOKEN_CHECKED_BY_VIEW = ("/enc/v1/nodes/",)


def token_checked_by_view(path: str) -> bool:
    """Classification requests only: ``/enc/v1/nodes/<certname>``, not its ``/explain``."""
    return path.startswith(TOKEN_CHECKED_BY_VIEW) and not path.rstrip("/").endswith("/explain")


def _matches(path: str, prefix: str) -> bool:
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path == prefix or path.startswith(prefix + "/")


def route_requirement(path: str) -> str:
    """What ``path`` needs: PUBLIC, DELEGATED, UI or a scope."""
    for prefix, need in ROUTE_RULES:
        if _matches(path, prefix):
            return need
    login = getattr(settings, "LOGIN_URL", "/accounts/login/")
    if path.startswith("/accounts/") or path == login:
        return PUBLIC
    return UI


@dataclass
class Access:
    """Who is calling and what they may do."""

    kind: str = "anonymous"  # token, certificate, session, anonymous
    name: str = ""
    scopes: set = field(default_factory=set)  # from the credentials
    granted: set = field(default_factory=set)  # from OPEN_NETWORKS / ANONYMOUS_SCOPES
    token: object = None
    certname: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    def allows(self, scope: str) -> bool:
        have = self.scopes | self.granted
        return "admin" in self.scopes or scope in have

    def describe(self) -> str:
        return f"{self.kind} {self.name!r}" if self.authenticated else "anonymous"


# --- configuration helpers -------------------------------------------------------------------


def _in(address: str, networks) -> bool:
    if not networks:
        return False  # nothing configured: no need to parse the address (every request asks)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


_CN_RE = re.compile(r"(?:^|[/,])\s*CN\s*=\s*([^/,]+)", re.IGNORECASE)


def certname_from_dn(dn: str) -> str | None:
    """The CN of a subject DN in OpenSSL (``/CN=x/O=y``) or RFC 2253 (``CN=x,O=y``) form."""
    match = _CN_RE.search(dn or "")
    return match.group(1).strip() if match else None


class Policy:
    """The configured policy (built from settings once per process, rebuilt on settings change)."""

    def __init__(self):
        self.trusted_proxies = parse_networks(getattr(settings, "TRUSTED_PROXIES", []))
        self.open_networks = parse_networks(getattr(settings, "OPEN_NETWORKS", []))
        self.open_scopes = set(getattr(settings, "OPEN_NETWORK_SCOPES", []))
        anonymous = set(getattr(settings, "ANONYMOUS_SCOPES", []))
        if getattr(settings, "PUPPETDB_API_ALLOW_ANONYMOUS", False):
            anonymous.add("read")
        if getattr(settings, "ENC_ALLOW_ANONYMOUS", False):
            anonymous.add("classify")
        self.anonymous_scopes = anonymous
        self.certname_rules = parse_certname_scopes(getattr(settings, "CERTNAME_SCOPES", ""))
        self.verify_key = _meta_key(getattr(settings, "CLIENT_VERIFY_HEADER", "X-Client-Verify"))
        self.dn_key = _meta_key(getattr(settings, "CLIENT_DN_HEADER", "X-Client-DN"))
        self.certname_key = _meta_key(getattr(settings, "CLIENT_CERTNAME_HEADER", "X-Client-Certname"))
        self.verify_success = getattr(settings, "CLIENT_VERIFY_SUCCESS", "SUCCESS")

    def certname_scopes(self, certname: str) -> set:
        lowered = certname.lower()
        for pattern, scopes in self.certname_rules:
            if fnmatch.fnmatchcase(lowered, pattern):
                return set(scopes)
        return set()

    def client_address(self, request, peer_trusted: bool) -> str:
        peer = request.META.get("REMOTE_ADDR", "")
        if peer_trusted:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            if hops:
                return hops[-1]  # the address the trusted proxy itself saw
        return peer

    def identify(self, request, *, token_checked_by_view: bool = False) -> Access | JsonResponse:
        from api.authentication import token_from_headers
        from api.models import ApiToken

        peer = request.META.get("REMOTE_ADDR", "")
        peer_trusted = _in(peer, self.trusted_proxies)
        access = Access()
        raw = token_from_headers(request.headers)
        if raw is not None and token_checked_by_view:
            pass  # the view checks it (and refuses a bad one)
        elif raw is not None:
            token = ApiToken.authenticate(raw)
            if token is None:
                return _refuse(401, "invalid, expired or revoked token")
            access = Access(kind="token", name=token.name, scopes=set(token.scopes), token=token)
        elif self.verify_key in request.META or self.dn_key in request.META or self.certname_key in request.META:
            if not peer_trusted:
                log.warning("client-certificate headers from an untrusted address ignored", extra={"remote_addr": peer})
            elif request.META.get(self.verify_key, "") == self.verify_success:
                certname = request.META.get(self.certname_key, "").strip() or certname_from_dn(
                    request.META.get(self.dn_key, "")
                )
                if certname:
                    access = Access(
                        kind="certificate",
                        name=certname,
                        certname=certname,
                        scopes=self.certname_scopes(certname),
                    )
        if not access.authenticated:
            user = _session_user(request)
            if user is not None and user.is_authenticated and user.is_active:
                scopes = {"read"}
                if user.is_staff:
                    scopes |= {"write", "classify"}
                if user.is_superuser:
                    scopes.add("admin")
                access = Access(kind="session", name=user.get_username(), scopes=scopes)
        granted = set(self.anonymous_scopes)
        if _in(self.client_address(request, peer_trusted), self.open_networks):
            granted |= self.open_scopes
        access.granted = granted
        return access


def client_ip(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind a proxy in ``TRUSTED_PROXIES`` the last
    ``X-Forwarded-For`` hop (what that proxy saw); a forwarded header from anywhere else is ignored."""
    current = policy()
    return current.client_address(request, _in(request.META.get("REMOTE_ADDR", ""), current.trusted_proxies))


def _session_user(request):
    user = getattr(request, "user", None)
    if user is not None:
        return user
    if hasattr(request, "session"):
        from django.contrib.auth import get_user

        user = get_user(request)
        request._cached_user = user  # AuthenticationMiddleware reuses it
        return user
    return None


def _refuse(status: int, message: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="stagehand"'
    return response


_policy: Policy | None = None


def policy() -> Policy:
    global _policy
    if _policy is None:
        _policy = Policy()
    return _policy


def _reset_policy(**kwargs) -> None:
    global _policy
    _policy = None


def _connect_setting_changed():
    from django.core.signals import setting_changed

    setting_changed.connect(_reset_policy, dispatch_uid="stagehand-security-policy")


_connect_setting_changed()


DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class AccessPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        need = route_requirement(path)
        response = None
        if need != PUBLIC:
            by_view = token_checked_by_view(path)
            result = policy().identify(request, token_checked_by_view=by_view)
            if isinstance(result, JsonResponse):
                response = result
            else:
                request.stagehand_access = result
                response = None if by_view else self._enforce(request, result, need, path)
        if response is None:
            response = self.get_response(request)
        return self._harden(request, response)

    def _enforce(self, request, access: Access, need: str, path: str):
        if need == DELEGATED:
            return None
        if need == UI:
            if access.kind == "session" or not _resolves(path, request):
                return None
            if request.method in ("GET", "HEAD"):
                login = settings.LOGIN_URL
                return HttpResponseRedirect(f"{login}?{urlencode({'next': request.get_full_path()})}")
            return _refuse(401, "sign in to use the web UI")
        if access.allows(need):
            if access.kind == "session" and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
                return _csrf_check(request)
            return None
        if not _resolves(path, request):
            return None  # let Django answer 404 for a route this process does not serve
        if not access.authenticated:
            return _refuse(
                401, f"authentication required: send an API token (or client certificate) with scope {need!r}"
            )
        log.info(
            "request refused",
            extra={"identity": access.describe(), "scope": need, "path": path},
        )
        return _refuse(403, f"{access.describe()} lacks the {need!r} scope")

    def _harden(self, request, response):
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
            csp = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)
            if csp and "Content-Security-Policy" not in response:
                response["Content-Security-Policy"] = csp
        return response


def _csrf_check(request):
    """Session (browser) credentials on an unsafe request need a valid CSRF token, also on API
    routes whose views are CSRF-exempt (those are meant for token and certificate clients)."""
    from django.middleware.csrf import CsrfViewMiddleware

    def _view(request):  # a stand-in view that is not csrf_exempt
        return None

    return CsrfViewMiddleware(lambda r: None).process_view(request, _view, (), {})


def _resolves(path: str, request) -> bool:
    try:
        resolve(path, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return True


def policy_scope_permission():
    """A DRF permission class: the view's ``required_scope`` must be allowed by the policy
    (token, client certificate, session, or what the operator opened)."""
    from rest_framework.permissions import BasePermission

    class PolicyScope(BasePermission):
        message = "the credentials lack the scope this route needs"

        def has_permission(self, request, view):
            return request_allows(request._request, getattr(view, "required_scope", "admin"))

    return PolicyScope


def request_allows(request, scope: str) -> bool:
    """For views that check access themselves: does the policy give this request ``scope``?"""
    access = getattr(request, "stagehand_access", None)
    return access is not None and access.allows(scope)
