"""Django's PostgreSQL backend, with the per-request connection health check skipped for a
connection that was used within the last ``DATABASE_HEALTH_CHECK_INTERVAL`` seconds (default 1).

Django's ``CONN_HEALTH_CHECKS`` sends ``SELECT 1`` before the first query of every request: a
whole round trip, as long as the query itself for the PuppetDB API's small answers. A pool such as
HikariCP (PuppetDB's) skips the test for a connection used in the last 500 ms; this does the same,
counting from the last cursor opened on the connection. A connection that sat idle longer is
tested as before. One the server closed inside the window fails the one request that finds it
(answered with an error) and is then replaced, as with health checks off.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    _used_at: float | None = None

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        self._used_at = time.monotonic()
        return cursor

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.errors_occurred
            and self._used_at is not None
            and time.monotonic() - self._used_at < settings.DATABASE_HEALTH_CHECK_INTERVAL
            and not self.connection.broken
            and not self.connection.closed
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close(self):
        self._used_at = None
        super().close()
