"""The ENC process: classification only."""

from config.settings.base import *  # noqa: F403

SERVICE = "enc"
ROOT_URLCONF = "config.urls.enc"
# Classification must survive the broker being down (DESIGN §1).
READY_REQUIRED_CHECKS = ["database"]

# --- enc (issue 5) -----------------------------------------------------------------------------
# The classification path is latency-critical: only the request log middleware (no sessions,
# CSRF, auth or common middleware; the views authenticate API tokens themselves).
from config.env import env_bool  # noqa: E402
from config.settings.base import MIDDLEWARE as _BASE_MIDDLEWARE  # noqa: E402

MIDDLEWARE = [_BASE_MIDDLEWARE[0]]
# Allow classification without a token (e.g. behind a proxy that checks client certificates).
ENC_ALLOW_ANONYMOUS = env_bool("ENC_ALLOW_ANONYMOUS", False)
