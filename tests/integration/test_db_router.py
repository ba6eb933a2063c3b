"""Read replicas: the router's decisions, and a real web process sending its reads to the
``replica`` alias when DATABASE_REPLICA_URL is set."""

from __future__ import annotations

import psycopg
import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings

from api.models import ApiToken
from config.db_router import ReplicaRouter, use_primary
from inventory.models import Node
from tests.support.stack import database_url, running, service_env, start_service


def with_replica(**extra):
    databases = {**settings.DATABASES, "replica": dict(settings.DATABASES["default"])}
    return override_settings(DATABASES=databases, **extra)


# "Overriding setting DATABASES" warns; only the router reads the setting in this test.
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.django_db
def test_router_sends_reads_to_the_replica_only_where_safe():
    router = ReplicaRouter()
    assert router.db_for_read(Node) == "default"  # no replica configured
    with with_replica(SERVICE="web"):
        assert router.db_for_read(Node) == "default"  # the test runs inside a transaction
    with with_replica(SERVICE="web"):
        transaction.get_connection().in_atomic_block = False
        try:
            assert router.db_for_read(Node) == "replica"
            with use_primary():
                assert router.db_for_read(Node) == "default"
            assert router.db_for_write(Node) == "default"
        finally:
            transaction.get_connection().in_atomic_block = True
    for service in ("ingest", "worker"):
        with with_replica(SERVICE=service):
            transaction.get_connection().in_atomic_block = False
            try:
                assert router.db_for_read(Node) == "default"
            finally:
                transaction.get_connection().in_atomic_block = True
    assert router.allow_migrate("default", "inventory") is True
    assert router.allow_migrate("replica", "inventory") is False


@pytest.mark.django_db(transaction=True)
def test_web_process_reads_from_the_replica_alias(tmp_path):
    user = get_user_model().objects.create_user("replica-admin")
    _, token = ApiToken.issue(user=user, name="ops", scopes=["admin"])
    Node.objects.create(certname="replica.example")
    marker = "stagehand-replica-test"
    env = service_env(tmp_path, DATABASE_REPLICA_URL=f"{database_url()}?application_name={marker}")
    with running(start_service("web", env, tmp_path / "logs")) as (web,):
        response = requests.get(
            web.url + "/pdb/admin/v1/archive", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert response.status_code == 200
        with psycopg.connect(database_url(), autocommit=True) as conn:
            rows = conn.execute("SELECT query FROM pg_stat_activity WHERE application_name = %s", [marker]).fetchall()
        # The replica connection stays open (CONN_MAX_AGE); its last statement belongs to the
        # export's reads (they stream through server-side cursors, named _django_curs_*).
        # (Looked at before /readyz, whose SELECT 1 on the replica may reuse the same connection.)
        assert rows, "no connection on the replica alias"
        assert any("_django_curs_" in q or "inventory_" in q or "reports_" in q for (q,) in rows), rows
        ready = requests.get(web.url + "/readyz", timeout=30).json()
        assert ready["checks"]["replica"]["ok"] is True and ready["checks"]["replica"]["required"] is False
