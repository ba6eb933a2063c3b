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


def pytest_collection_modifyitems(config, items):
    """Transactional tests flush every table when they end, which would also remove the rows that
    data migrations create (the ENC root group and classification state, the UI roles). Restore
    them after each such test with Django's serialized rollback."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            item.add_marker(
                pytest.mark.django_db(*marker.args, **marker.kwargs, serialized_rollback=True), append=False
            )
