"""The web process: UI, native REST API, PuppetDB-compatible query API (and the write routes)."""

from config.env import env_bool, env_int
from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES, MIDDLEWARE

SERVICE = "web"
ROOT_URLCONF = "config.urls.web"

MIDDLEWARE = [
    MIDDLEWARE[0],
    MIDDLEWARE[1],
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    *MIDDLEWARE[2:],
    # Django's CSRF, authentication, messages and clickjacking middleware, stepping aside on the
    # PuppetDB read API and Jolokia metrics (config/middleware.py).
    "config.middleware.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "config.middleware.XFrameOptionsMiddleware",
]

# The query API (inventory.query) binds its statements server-side and lets psycopg prepare one
# the connection has run QUERY_PREPARE_THRESHOLD times (Django's own cursors bind client-side
# and never prepare). QUERY_PREPARED_STATEMENTS=false behind a pooler that cannot keep prepared
# statements (PgBouncer in transaction mode before 1.21).
QUERY_PREPARED_STATEMENTS = env_bool("QUERY_PREPARED_STATEMENTS", True)
if QUERY_PREPARED_STATEMENTS:
    for _alias in DATABASES.values():
        _alias.setdefault("OPTIONS", {}).setdefault(
            "prepare_threshold", env_int("QUERY_PREPARE_THRESHOLD", 2, minimum=0)
        )
