"""Read replicas: with ``DATABASE_REPLICA_URL`` set, the ``replica`` alias exists and processes
listed in ``REPLICA_READ_SERVICES`` (default: web and enc) send their reads there.

Reads stay on the primary when they must see fresh writes: inside a transaction on the primary
(a read-modify-write, or any code under ``transaction.atomic``), in the ingest and worker
processes (they read what they are about to change), and in code wrapped in
``use_primary()``. Writes and migrations always go to the primary (``default``).
"""

from __future__ import annotations

import contextlib
import contextvars

from django.conf import settings
from django.db import connections

REPLICA = "replica"
_force_primary: contextvars.ContextVar[bool] = contextvars.ContextVar("force_primary", default=False)


@contextlib.contextmanager
def use_primary():
    """Send every read in this block to the primary (e.g. right after a write the caller made
    outside a transaction)."""
    token = _force_primary.set(True)
    try:
        yield
    finally:
        _force_primary.reset(token)


def replica_enabled() -> bool:
    return REPLICA in settings.DATABASES and settings.SERVICE in getattr(settings, "REPLICA_READ_SERVICES", ())


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if not replica_enabled() or _force_primary.get():
            return "default"
        if connections["default"].in_atomic_block:
            return "default"
        return REPLICA

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same data on both aliases

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
