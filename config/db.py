"""Database helpers shared by request paths that run without per-request health checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

T = TypeVar("T")


def retry_if_disconnected(query: Callable[[], T]) -> T:
    """Run ``query()``; if the server dropped the connection, replace it and run it once more.

    Inside a transaction the connection cannot be replaced, so the error is raised as is."""
    try:
        return query()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        connection.close()
        return query()
