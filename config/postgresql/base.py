"""Django's PostgreSQL backend, with the per-request connection health check skipped for a
connection that finished a request cleanly within the last ``DATABASE_HEALTH_CHECK_INTERVAL``
seconds (default 1).

Django's ``CONN_HEALTH_CHECKS`` sends ``SELECT 1`` before the first query of every request: a
whole round trip, as long as the query itself for the PuppetDB API's small answers. A pool such as
HikariCP (PuppetDB's) skips the test for a connection used in the last 500 ms; this does the same.
A connection the server closed inside that window fails the one request that finds it (which is
answered with an error) and is then replaced, as with health checks off.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    _clean_at: float | None = None

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._clean_at is not None
            and time.monotonic() - self._clean_at < getattr(settings, "DATABASE_HEALTH_CHECK_INTERVAL", 1.0)
            and not self.connection.broken
            and not self.connection.closed
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self):
        # Called at the start and the end of every request (django.db.close_old_connections).
        errors = self.errors_occurred
        super().close_if_unusable_or_obsolete()
        self._clean_at = time.monotonic() if self.connection is not None and not errors else None

    def close(self):
        self._clean_at = None
        super().close()
