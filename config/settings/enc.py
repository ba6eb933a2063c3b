"""The ENC process: classification only."""

from config.settings.base import *  # noqa: F403

SERVICE = "enc"
ROOT_URLCONF = "config.urls.enc"
# Classification must survive the broker being down (DESIGN §1).
READY_REQUIRED_CHECKS = ["database"]
