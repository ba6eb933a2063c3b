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
from config.env import env_bool, env_choice  # noqa: E402
from config.settings.base import MIDDLEWARE as _BASE_MIDDLEWARE  # noqa: E402

MIDDLEWARE = [name for name in _BASE_MIDDLEWARE if name != "django.middleware.common.CommonMiddleware"]
# One JSON access-log line per request costs ~0.1 ms of CPU; WARNING keeps only errors.
LOGGING = {  # noqa: F405
    **LOGGING,  # noqa: F405
    "loggers": {
        **LOGGING["loggers"],  # noqa: F405
        "stagehand.request": {
            "level": env_choice("ENC_REQUEST_LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
        },
    },
}
# Allow classification without a token (e.g. behind a proxy that checks client certificates).
ENC_ALLOW_ANONYMOUS = env_bool("ENC_ALLOW_ANONYMOUS", False)
