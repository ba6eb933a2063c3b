"""The ENC process: classification only."""

from config.settings.base import *  # noqa: F403

SERVICE = "enc"
ROOT_URLCONF = "config.urls.enc"
# Classification must survive the broker being down (DESIGN §1).
READY_REQUIRED_CHECKS = ["database"]

# --- enc (issue 5) -----------------------------------------------------------------------------
# The classification path is latency-critical: no sessions, CSRF, auth or common middleware
# (the views set Content-Length); the access policy leaves the classify view to check an API token
# in its single statement (config.security.token_checked_by_view).
from config.env import env_bool, env_choice, env_int  # noqa: E402
from config.settings.base import MIDDLEWARE as _BASE_MIDDLEWARE  # noqa: E402

MIDDLEWARE = [name for name in _BASE_MIDDLEWARE if name != "django.middleware.common.CommonMiddleware"]
# One JSON access-log line per request costs ~0.08 ms of CPU, a sixth of a classification
# answered from the answer cache: off by default here (WARNING keeps the 5xx lines);
# ENC_REQUEST_LOG_LEVEL=INFO turns the access log on.
LOGGING = {  # noqa: F405
    **LOGGING,  # noqa: F405
    "loggers": {
        **LOGGING["loggers"],  # noqa: F405
        "stagehand.request": {
            "level": env_choice("ENC_REQUEST_LOG_LEVEL", "WARNING", ["DEBUG", "INFO", "WARNING", "ERROR"])
        },
    },
}
# Allow classification without a token (e.g. behind a proxy that checks client certificates).
ENC_ALLOW_ANONYMOUS = env_bool("ENC_ALLOW_ANONYMOUS", False)
# Django disables psycopg's prepared statements (prepare_threshold=None) for every connection;
# the classify lookup (enc.store.lookup) asks for server-side preparation explicitly, which saves
# PostgreSQL the parse and plan of a seven-table statement on every request (~0.2 ms of CPU).
# Only statements executed with prepare=True are prepared (Django's own cursors bind client-side
# and never prepare). Set ENC_PREPARED_STATEMENTS=false behind a pooler that cannot keep them
# (PgBouncer in transaction mode before 1.21).
if env_bool("ENC_PREPARED_STATEMENTS", True):
    for _alias in DATABASES.values():  # noqa: F405
        _alias.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
# Per-node answers kept per classification version and process (enc.answers), GET and POST each.
ENC_ANSWER_CACHE_NODES = env_int("ENC_ANSWER_CACHE_NODES", 100_000, minimum=0)
