"""config.postgresql: the per-request connection health check (``SELECT 1``) is skipped for a
connection that finished a request cleanly within DATABASE_HEALTH_CHECK_INTERVAL seconds."""

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


def next_request():
    connection.close_if_unusable_or_obsolete()  # request_finished
    connection.close_if_health_check_failed()  # the first query of the next request


def test_every_service_uses_the_backend():
    assert isinstance(connections["default"], DatabaseWrapper)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_recently_clean_connection_is_not_checked(transactional_db, settings, checks):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 60
    connection.ensure_connection()
    next_request()
    assert checks == []
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 0
    next_request()
    assert checks == ["default"]


def test_a_connection_that_saw_errors_is_checked(transactional_db, settings, checks):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 60
    connection.ensure_connection()
    connection.errors_occurred = True
    next_request()
    assert checks  # by Django's own rule for errors, then again before the next query
    connection.close_if_health_check_failed()


def test_a_connection_the_server_closed_is_replaced(transactional_db, settings):
    settings.DATABASE_HEALTH_CHECK_INTERVAL = 0
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    next_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
