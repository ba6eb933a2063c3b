"""The access policy with the closed production settings: every route of every process refuses
unauthenticated and wrong-scope requests; client-certificate headers count only from a trusted
proxy; tokens are managed from the command line; cookies and CSP under TLS; no secrets in logs.

The rest of the suite runs with loopback opened for read/write (config/settings/test.py); these
tests switch that off with the ``production_policy`` fixture.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from api.models import ApiToken
from config import security
from config.hardening import ALL_SCOPES, RedactSecretsFilter, parse_certname_scopes, redact_secrets
from config.observability import StructuredFormatter
from tests.support.pki import make_ca
from tests.support.stack import BASE_DIR, free_port, running, service_env, start_service, wait_http

PROCESSES = {"web": "config.urls.web", "ingest": "config.urls.ingest", "enc": "config.urls.enc"}
SAMPLE = {
    "str": "agent1.example.com",
    "int": "1",
    "slug": "x",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "a/b",
    "drf_format_suffix": ".json",  # DRF routers' format-suffix routes, e.g. /api/v1/.json
}
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")

# Sign-in pages are public by design.
SIGN_IN_PAGES = {"/admin/login/", "/admin/logout/", "/accounts/login/", "/accounts/logout/"}

PRODUCTION = dict(
    OPEN_NETWORKS=[],
    OPEN_NETWORK_SCOPES=["read", "write", "classify"],
    ANONYMOUS_SCOPES=[],
    TRUSTED_PROXIES=[],
    CERTNAME_SCOPES="",
    PUPPETDB_API_ALLOW_ANONYMOUS=False,
    ENC_ALLOW_ANONYMOUS=False,
)


@pytest.fixture
def production_policy():
    with override_settings(**PRODUCTION):
        yield


def concrete_paths(urlconf: str) -> list[str]:
    """One concrete path per route pattern (path() converters filled with sample values; regex
    routes such as the Django admin's are covered by their prefix)."""
    paths = []

    def walk(patterns, prefix):
        for p in patterns:
            route = getattr(p.pattern, "_route", None)
            if route is None:  # a regex pattern
                text = str(p.pattern).lstrip("^").rstrip("$")
                route = text if not any(c in text for c in "()[]?*+\\") else None
                if route is None:
                    continue
            full = prefix + CONVERTER.sub(lambda m: SAMPLE.get(m.group(1) or "str", "x"), route)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, full)
            elif isinstance(p, URLPattern):
                paths.append("/" + full)

    walk(get_resolver(urlconf).url_patterns, "")
    return sorted(set(paths))


def all_routes():
    out = []
    for process, urlconf in PROCESSES.items():
        for path in concrete_paths(urlconf):
            out.append((process, path))
    return out


ROUTES = all_routes()


def token_with(scopes) -> str:
    user = get_user_model().objects.create_user(f"sec-{'-'.join(sorted(scopes))}-{ApiToken.objects.count()}")
    return ApiToken.issue(user=user, name="t", scopes=list(scopes), expires=None)[1]


def test_route_table_covers_the_processes():
    paths = {path for _, path in ROUTES}
    assert {"/healthz", "/readyz", "/metrics", "/pdb/admin/v1/cmd", "/pdb/admin/v1/archive"} <= paths
    # Every route has a rule; only health endpoints are public.
    public = {path for path in paths if security.route_requirement(path) == security.PUBLIC}
    # ... and the stagehand-enc script download, which holds no data.
    allowed = {"/healthz", "/readyz", "/enc/v1/client/stagehand-enc"}
    assert public <= allowed | {p for p in paths if p.startswith("/accounts/")}


@pytest.mark.django_db
@pytest.mark.parametrize(("process", "path"), ROUTES, ids=[f"{p}:{path}" for p, path in ROUTES])
def test_every_route_refuses_unauthenticated_and_wrong_scope(client, production_policy, process, path):
    need = security.route_requirement(path)
    with override_settings(ROOT_URLCONF=PROCESSES[process], SERVICE=process):
        if need == security.PUBLIC or path in SIGN_IN_PAGES:
            return
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            if need == security.UI or path.startswith("/admin/"):
                refused = response.status_code in (401, 403) or (
                    response.status_code == 302 and "login" in response["Location"]
                )
                assert refused, (method, path, response.status_code)
                continue
            if path.startswith(security.TOKEN_CHECKED_BY_VIEW) and response.status_code == 405:
                continue  # the view refuses the method before it looks at credentials
            assert response.status_code in (401, 403), (method, path, response.status_code)
            if need != security.DELEGATED:
                assert response.status_code == 401
                assert "error" in response.json()
        if need in ALL_SCOPES:
            wrong = token_with(
                {"read", "write", "classify"} - {need} if need != "admin" else {"read", "write", "classify"}
            )
            for method in ("get", "post"):
                response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {wrong}")
                if path.startswith(security.TOKEN_CHECKED_BY_VIEW) and response.status_code == 405:
                    continue
                assert response.status_code == 403, (method, path, response.status_code)
                assert "lacks" in response.json()["error"]
            right = token_with({need})
            response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {right}")
            assert response.status_code not in (401, 403), (path, response.status_code, response.content[:200])
        elif need == security.DELEGATED and path.startswith("/api/"):
            wrong = token_with({"classify"})
            assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {wrong}").status_code == 403


@pytest.mark.django_db
def test_bad_token_is_refused_even_where_the_network_is_open(client):
    # Test settings open loopback for read; a bad token is still refused, not downgraded.
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer sth_not-a-real-token")
    assert response.status_code == 401
    assert "invalid" in response.json()["error"]
    assert client.get("/metrics").status_code == 200  # the explicitly opened network
    assert client.post("/pdb/admin/v1/cmd", {}, content_type="application/json").status_code == 401


CERT_HEADERS = {
    "HTTP_X_CLIENT_VERIFY": "SUCCESS",
    "HTTP_X_CLIENT_DN": "/CN=puppet.example.com",
    "HTTP_X_CLIENT_CERTNAME": "puppet.example.com",
}


@pytest.mark.django_db
def test_client_certificate_headers_only_from_trusted_proxies(client, production_policy):
    with override_settings(
        TRUSTED_PROXIES=["10.1.2.3/32"], CERTNAME_SCOPES="puppet.example.com=read,admin; *.example.com=classify"
    ):
        # Forged from an untrusted address (the test client is 127.0.0.1): ignored.
        assert client.get("/metrics", **CERT_HEADERS).status_code == 401
        assert client.post("/pdb/admin/v1/cmd", {}, content_type="application/json", **CERT_HEADERS).status_code == 401
        # From the trusted proxy: the certname's scopes apply.
        trusted = {"REMOTE_ADDR": "10.1.2.3", **CERT_HEADERS}
        assert client.get("/metrics", **trusted).status_code == 200
        response = client.post(
            "/pdb/admin/v1/cmd",
            {"command": "clean", "version": 1, "payload": ["gc_packages"]},
            content_type="application/json",
            **trusted,
        )
        assert response.status_code == 200, response.content
        # The CN of the DN is used when there is no certname header; allowlist decides scopes.
        agent = {
            "REMOTE_ADDR": "10.1.2.3",
            "HTTP_X_CLIENT_VERIFY": "SUCCESS",
            "HTTP_X_CLIENT_DN": "CN=agent7.example.com,O=Puppet",
        }
        assert client.get("/metrics", **agent).status_code == 403
        unknown = {
            "REMOTE_ADDR": "10.1.2.3",
            "HTTP_X_CLIENT_VERIFY": "SUCCESS",
            "HTTP_X_CLIENT_CERTNAME": "evil.example.org",
        }
        assert client.get("/metrics", **unknown).status_code == 403
        failed = {**trusted, "HTTP_X_CLIENT_VERIFY": "FAILED"}
        assert client.get("/metrics", **failed).status_code == 401
        # The proxy's X-Forwarded-For decides OPEN_NETWORKS; from anyone else it is ignored.
        with override_settings(OPEN_NETWORKS=["192.0.2.0/24"], OPEN_NETWORK_SCOPES=["read"]):
            assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="192.0.2.9").status_code == 200
            assert (
                client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 401
            )
            assert client.get("/metrics", HTTP_X_FORWARDED_FOR="192.0.2.9").status_code == 401


@pytest.mark.django_db
def test_anonymous_flags_of_other_areas_are_part_of_the_policy(client, production_policy):
    assert client.get("/metrics").status_code == 401
    with override_settings(PUPPETDB_API_ALLOW_ANONYMOUS=True):
        assert client.get("/metrics").status_code == 200
        assert client.post("/pdb/admin/v1/cmd").status_code == 401
    with override_settings(ANONYMOUS_SCOPES=["read"]):
        assert client.get("/metrics").status_code == 200


def test_bad_policy_configuration_stops_the_process():
    with pytest.raises(ValueError, match="bad CERTNAME_SCOPES entry"):
        parse_certname_scopes("puppet.example.com=root")
    for variable, value, message in (
        ("TRUSTED_PROXIES", "10.0.0.0/33", "TRUSTED_PROXIES"),
        ("OPEN_NETWORKS", "everyone", "OPEN_NETWORKS"),
        ("ANONYMOUS_SCOPES", "admin", "ANONYMOUS_SCOPES"),
        ("CERTNAME_SCOPES", "*.example.com", "CERTNAME_SCOPES"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            env=service_env(**{variable: value, "DJANGO_SETTINGS_MODULE": "config.settings.web"}),
            capture_output=True,
            text=True,
            cwd=BASE_DIR,
        )
        assert result.returncode != 0
        assert f"configuration error: {message}" in result.stderr, result.stderr


@pytest.mark.django_db
def test_api_token_command_create_list_revoke(client, production_policy, capsys):
    call_command("api_token", "create", "--user", "puppetboard", "--create-user", "--name", "board", "--scope", "read")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("sth_")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    call_command("api_token", "list", "--user", "puppetboard")
    listing = capsys.readouterr().out
    assert "board" in listing and "read" in listing and raw not in listing
    token = ApiToken.objects.get(name="board")
    call_command("api_token", "revoke", token.key_prefix)
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    with pytest.raises(CommandError, match="scopes must be"):
        call_command("api_token", "create", "--user", "puppetboard", "--name", "x", "--scope", "root")
    with pytest.raises(CommandError, match="no user"):
        call_command("api_token", "create", "--user", "nobody", "--name", "x", "--scope", "read")
    with pytest.raises(CommandError, match="no token"):
        call_command("api_token", "revoke", "sth_missing")


@pytest.mark.django_db
def test_secure_cookies_and_csp_under_tls_only(client):
    plain = client.get("/admin/login/")
    assert plain.status_code == 200
    assert not plain.cookies["csrftoken"]["secure"]
    assert "Content-Security-Policy" not in plain
    tls = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert tls.cookies["csrftoken"]["secure"] is True
    assert "default-src 'self'" in tls["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in tls["Content-Security-Policy"]
    # CSRF protection is on for session (browser) requests.
    user = get_user_model().objects.create_superuser("csrf-admin", password="pw-123456789")
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/admin/logout/").status_code == 403


def test_secrets_are_redacted_from_logs():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter("json"))
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("stagehand.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "connecting to %s with Authorization: Bearer %s",
            "postgresql://stagehand:hunter2@db:5432/x",
            "sth_AbCdEfGhIjKlMnOp",
            extra={"header": "X-Authentication: sth_ZyXwVuTsRqPo", "password": "password=swordfish"},
        )
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    for secret in ("hunter2", "AbCdEfGhIjKlMnOp", "ZyXwVuTsRqPo", "swordfish"):
        assert secret not in output, output
    assert "postgresql://stagehand:[redacted]@db:5432/x" in output
    assert redact_secrets("nothing secret here") == "nothing secret here"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("token sth_AbCdEfGhIjKl in a path", "AbCdEfGhIjKl"),
        ("AUTHORIZATION: Token xyz123", "xyz123"),
        ("x-Authentication=abc987", "abc987"),
        ("AMQP://guest:guest99@rabbit//", "guest99"),
        ("Rediss://:s3cr3t@cache:6380/0", "s3cr3t"),
        ("PASSWORD: hunter2", "hunter2"),
        ("Secret_Key=zzz111", "zzz111"),
    ],
)
def test_redaction_fast_path_never_skips_a_secret(text, secret):
    """The one-search pre-check lets through only strings none of the patterns would change."""
    assert secret not in redact_secrets(text)


HAPROXY_TEST_PATCHES = [
    (re.compile(r"bind :8081 "), "bind 127.0.0.1:{tls_port} "),
    (re.compile(r"bind 127\.0\.0\.1:8404"), "bind 127.0.0.1:{stats_port}"),
    (re.compile(r"server (\w+) 127\.0\.0\.1:\d+ check"), r"server \1 127.0.0.1:{web_port} check source 127.0.0.2"),
    (re.compile(r"maxconn 20000"), "maxconn 500"),  # the test machine's file-descriptor limit
]


@pytest.mark.django_db(transaction=True)
def test_tls_with_client_certificates_through_the_shipped_haproxy_config(tmp_path):
    """The deploy/haproxy config in front of a real web process: a Puppet-CA client certificate
    on the allowlist is let in with its scopes; no certificate, an unlisted one, or headers forged
    straight at the backend (not from the proxy's address) are refused."""
    ca = make_ca(tmp_path / "ca")
    _, _, server_pem = ca.issue("stagehand.example.com")
    puppet_cert, puppet_key, _ = ca.issue("puppet.example.com")
    agent_cert, agent_key, _ = ca.issue("agent1.example.com")
    rogue = make_ca(tmp_path / "rogue", name="Rogue CA")
    rogue_cert, rogue_key, _ = rogue.issue("puppet.example.com")

    web_port, tls_port, stats_port = free_port(), free_port(), free_port()
    env = service_env(
        tmp_path,
        OPEN_NETWORKS="",
        TRUSTED_PROXIES="127.0.0.2/32",
        CERTNAME_SCOPES="puppet.example.com=read,write,admin",
    )
    config = (BASE_DIR / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    for pattern, replacement in HAPROXY_TEST_PATCHES:
        config = pattern.sub(replacement.format(tls_port=tls_port, stats_port=stats_port, web_port=web_port), config)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(config)
    hap_env = dict(env, STAGEHAND_TLS_CERT=str(server_pem), STAGEHAND_CA=str(ca.ca_cert), STAGEHAND_CRL=str(ca.crl))
    with running(start_service("web", env, tmp_path / "logs", port=web_port)):
        log = open(tmp_path / "haproxy.log", "wb")  # noqa: SIM115
        haproxy = subprocess.Popen(
            ["haproxy", "-f", str(cfg), "-db"], env=hap_env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base = f"https://127.0.0.1:{tls_port}"
            verify = str(ca.ca_cert)
            wait_http(f"http://127.0.0.1:{stats_port}/stats", alive=haproxy.poll)
            # Wait for the backend to be marked up by the /readyz health check.
            import time

            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                r = requests.get(base + "/healthz", verify=verify, timeout=5)
                if r.status_code == 200:
                    break
                time.sleep(0.3)
            assert r.status_code == 200

            with_cert = requests.get(
                base + "/metrics", verify=verify, cert=(str(puppet_cert), str(puppet_key)), timeout=10
            )
            assert with_cert.status_code == 200, with_cert.text[:300]
            admin = requests.post(
                base + "/pdb/admin/v1/cmd",
                json={"command": "clean", "version": 1, "payload": ["gc_packages"]},
                verify=verify,
                cert=(str(puppet_cert), str(puppet_key)),
                timeout=30,
            )
            assert admin.status_code == 200, admin.text[:300]
            assert requests.get(base + "/metrics", verify=verify, timeout=10).status_code == 401
            unlisted = requests.get(
                base + "/metrics", verify=verify, cert=(str(agent_cert), str(agent_key)), timeout=10
            )
            assert unlisted.status_code == 403
            # A client cannot pass its own identity headers through the proxy.
            forged_via_proxy = requests.get(
                base + "/metrics",
                verify=verify,
                timeout=10,
                headers={"X-Client-Verify": "SUCCESS", "X-Client-Certname": "puppet.example.com"},
            )
            assert forged_via_proxy.status_code == 401
            # A certificate from another CA does not get through the TLS handshake verification.
            with pytest.raises(requests.exceptions.RequestException):
                r = requests.get(base + "/metrics", verify=verify, cert=(str(rogue_cert), str(rogue_key)), timeout=10)
                if r.status_code in (400, 403):
                    raise requests.exceptions.SSLError(f"refused with {r.status_code}")
            # Forged headers sent straight to the backend, not from the proxy's address: ignored.
            direct = requests.get(
                f"http://127.0.0.1:{web_port}/metrics",
                headers={"X-Client-Verify": "SUCCESS", "X-Client-Certname": "puppet.example.com"},
                timeout=10,
            )
            assert direct.status_code == 401
        finally:
            haproxy.terminate()
            haproxy.wait(10)
            log.close()


@pytest.mark.django_db
def test_session_users_need_csrf_on_api_routes_too(production_policy):
    from django.test import Client

    admin = get_user_model().objects.create_superuser("csrf-ops", password="pw-123456789")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    body = {"command": "clean", "version": 1, "payload": ["gc_packages"]}
    refused = browser.post("/pdb/admin/v1/cmd", body, content_type="application/json")
    assert refused.status_code == 403
    browser.get("/admin/")  # its logout form sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    allowed = browser.post("/pdb/admin/v1/cmd", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert allowed.status_code == 200, allowed.content
    # A logged-in user without staff rights has read only.
    reader = get_user_model().objects.create_user("viewer", password="pw-123456789")
    viewer = Client()
    viewer.force_login(reader)
    assert viewer.get("/metrics").status_code == 200
    assert viewer.post("/pdb/admin/v1/cmd", body, content_type="application/json").status_code == 403


@pytest.mark.django_db
def test_enc_accepts_client_certificates_from_the_trusted_proxy(client, production_policy):
    trusted = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_CLIENT_VERIFY": "SUCCESS"}
    with override_settings(
        ROOT_URLCONF="config.urls.enc",
        SERVICE="enc",
        TRUSTED_PROXIES=["10.1.2.3/32"],
        CERTNAME_SCOPES="puppet.example.com=classify; *=read",
    ):
        ok = client.get("/enc/v1/nodes/a.example?format=json", HTTP_X_CLIENT_CERTNAME="puppet.example.com", **trusted)
        assert ok.status_code == 200, ok.content
        assert (
            client.get(
                "/enc/v1/nodes/a.example/explain", HTTP_X_CLIENT_CERTNAME="puppet.example.com", **trusted
            ).status_code
            == 200
        )
        # A read-only certname has credentials but not the scope (403); forged headers from
        # elsewhere count as no credentials (401).
        assert (
            client.get("/enc/v1/nodes/a.example", HTTP_X_CLIENT_CERTNAME="agent.example.com", **trusted).status_code
            == 403
        )
        forged = {"HTTP_X_CLIENT_VERIFY": "SUCCESS", "HTTP_X_CLIENT_CERTNAME": "puppet.example.com"}
        assert client.get("/enc/v1/nodes/a.example", **forged).status_code == 401
        assert client.get("/metrics").status_code == 401


@pytest.mark.django_db
def test_machine_read_routes_skip_the_browser_middleware_but_not_the_policy(production_policy):
    from django.test import Client

    from config import middleware

    query = "/pdb/query/v4/nodes"
    assert middleware.is_machine_read(query) and middleware.is_machine_read("/metrics/v2/list")
    assert not any(middleware.is_machine_read(p) for p in ("/pdb/admin/v1/cmd", "/pdb/cmd/v1", "/api/v1/nodes/", "/"))
    # Hooks Django collects from an instance are forwarded only where the wrapped class has them.
    assert hasattr(middleware.CsrfViewMiddleware, "process_view")
    assert not hasattr(middleware.MessageMiddleware, "process_view")

    anonymous = Client()
    assert anonymous.get(query).status_code == 401  # the access policy still decides
    reader = get_user_model().objects.create_user("reader", password="pw-123456789")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reader)
    answer = browser.get(query)  # a session user reads without the authentication middleware
    assert answer.status_code == 200, answer.content
    assert "X-Frame-Options" not in answer and "csrftoken" not in answer.cookies
    # A query POSTed with browser credentials still needs the CSRF token (the policy checks it).
    body = {"query": ["from", "nodes", ["=", "certname", "a.example"]]}
    assert browser.post("/pdb/query/v4", body, content_type="application/json").status_code == 403
    browser.get("/admin/login/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    posted = browser.post("/pdb/query/v4", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert posted.status_code == 200, posted.content
    # Browser routes keep the whole stack.
    page = browser.get("/admin/login/")
    assert page["X-Frame-Options"] == "DENY"
    assert browser.post("/admin/logout/").status_code == 403
