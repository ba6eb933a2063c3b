"""Test-suite wide setup: real PostgreSQL (DATABASE_URL, else the embedded one) and a real broker
(CELERY_BROKER_URL, else the embedded Redis, started here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PUPPETDB_EXAMPLES = FIXTURES / "puppetdb"


def pytest_configure(config):
    if not os.environ.get("CELERY_BROKER_URL"):
        from config import embedded

        embedded.ensure_redis()


@pytest.fixture(scope="session", autouse=True)
def _purge_broker(django_db_blocker):
    """Start from empty queues, so a message left by an earlier run never reaches this one."""
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in ("ingest", "housekeeping", "default"):
            conn.default_channel.queue_purge(queue) if _queue_exists(conn, queue) else None
    yield


def _queue_exists(conn, queue: str) -> bool:
    try:
        conn.default_channel.queue_declare(queue=queue, passive=True)
        return True
    except Exception:  # noqa: BLE001 - absent queue
        return False


@pytest.fixture
def artifacts_dir(request) -> Path:
    """A per-test directory under test-artifacts/ for logs and screenshots kept after the run."""
    path = Path(__file__).resolve().parents[1] / "test-artifacts" / request.node.name.replace("/", "_")
    path.mkdir(parents=True, exist_ok=True)
    return path


# Rows created by data migrations; transactional tests flush every table when they end, so these
# (idempotent) functions are run again before each database test.
_MIGRATION_DATA = [
    ("enc.migrations.0002_enc_root_and_state", "create"),
    ("inventory.migrations.0002_ui_roles", "create_roles"),
]


@pytest.fixture(autouse=True)
def _migration_data(request):
    if request.node.get_closest_marker("django_db") is None:
        return
    import importlib

    from django.apps import apps

    request.getfixturevalue("_django_db_helper")
    for module, function in _MIGRATION_DATA:
        getattr(importlib.import_module(module), function)(apps, None)


@pytest.fixture
def fresh_storage_caches():
    """The ingest storage's per-process caches (ids, known fact paths) emptied before and after a
    test, so no test sees rows another one rolled back (``pytest.mark.usefixtures``)."""
    from inventory.storage import forget_caches

    forget_caches()
    yield
    forget_caches()
