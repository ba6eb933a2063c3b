"""Test settings: the web process's settings (a superset of the others' routes are tested by
switching URLconfs), with fast password hashing."""

from config.settings.web import *  # noqa: F403

SERVICE = "test"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# whitenoise serves from STATIC_ROOT; tests do not run collectstatic, so find files in the apps.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# --- ops: access policy in tests ------------------------------------------------------------
# Production is closed (config/security.py): nothing but /healthz and /readyz without credentials.
# Most tests call the PuppetDB query API and the write endpoints without credentials from the
# Django test client (REMOTE_ADDR 127.0.0.1), so the test settings open loopback for `read` and
# `write` — explicitly, here and for child processes in tests/support/stack.service_env.
# classify (ENC) and admin stay closed. tests/integration/test_security.py runs every route with
# the closed production policy (its `production_policy` fixture).
OPEN_NETWORKS = ["127.0.0.1/32"]
OPEN_NETWORK_SCOPES = ["read", "write"]

# Query issue: puppetboard/pypuppetdb tests read the PuppetDB API without a token.
PUPPETDB_API_ALLOW_ANONYMOUS = True
