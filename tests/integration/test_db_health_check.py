"""config.postgresql: the per-request connection health check (``SELECT 1``) is skipped for a
connection used within DATABASE_HEALTH_CHECK_INTERVAL seconds, and done for one idle longer."""

import time

import psycopg
import pytest
from django.db import connection, connections

from config.postgresql.base import DatabaseWrapper


@pytest.fixture
def checks(monkeypatch):
    calls = []
    real = DatabaseWrapper.is_usable

    def spy(self):
        calls.append(self.alias)
        return real(self)

    monkeypatch.setattr(DatabaseWrapper, "is_usable", spy)
    return calls


def use():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def next_request():
    connection.close_if_unusable_or_obsolete()  # request_finished, then request_started
    connection.close_if_unusable_or_obsolete()
    connection.close_if_health_check_failed()  # the first query of the next request


def test_every_service_uses_the_backend():
    assert isinstance(connections["default"], DatabaseWrapper)
    assert connections["default"].settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_recently_used_connection_is_not_checked(transactional_db, settings, checks):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 60
    use()
    checks.clear()
    next_request()
    assert checks == []
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 0
    next_request()
    assert checks == ["default"]


def test_a_connection_idle_longer_than_the_interval_is_checked(transactional_db, settings, checks):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 1
    use()
    checks.clear()
    connections["default"]._used_at = time.monotonic() - 5  # last used 5 s ago
    next_request()  # the start of a request does not count as a use
    assert checks == ["default"]


def test_a_connection_that_saw_errors_is_checked(transactional_db, settings, checks):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 60
    use()
    checks.clear()
    connection.errors_occurred = True
    connection.health_check_done = False  # a new request
    connection.close_if_health_check_failed()
    assert checks == ["default"]


def test_a_connection_the_server_closed_is_replaced(transactional_db, settings):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 0
    use()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    next_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
