"""The ingest process: write endpoints only (PuppetDB commands, report uploads)."""

from config.settings.base import *  # noqa: F403

SERVICE = "ingest"
ROOT_URLCONF = "config.urls.ingest"
# Ingest only has to commit the raw command; it keeps accepting while the broker is down.
READY_REQUIRED_CHECKS = ["database"]
