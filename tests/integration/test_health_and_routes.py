"""/healthz and /readyz on every HTTP service, and each service serving only its own routes."""

import pytest
from django.test import override_settings

from tests.support.stack import free_port, running, service_env, start_service

SERVICES = {
    "web": {"urls": "config.urls.web", "required": ["database", "broker"]},
    "ingest": {"urls": "config.urls.ingest", "required": ["database"]},
    "enc": {"urls": "config.urls.enc", "required": ["database"]},
}


def as_service(name):
    spec = SERVICES[name]
    return override_settings(ROOT_URLCONF=spec["urls"], SERVICE=name, READY_REQUIRED_CHECKS=spec["required"])


@pytest.mark.django_db
@pytest.mark.parametrize("service", SERVICES)
def test_health_and_ready_with_database_up(client, service):
    with as_service(service):
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "service": service}
        ready = client.get("/readyz")
        body = ready.json()
        assert ready.status_code == 200, body
        assert body["status"] == "ok"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["broker"]["ok"] is True
        assert body["checks"]["database"]["required"] is True
        assert body["checks"]["broker"]["required"] is (service == "web")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("service", "path", "status"),
    [
        ("enc", "/admin/", 404),
        ("enc", "/api/schema/", 404),
        ("enc", "/pdb/query/v4/nodes", 404),
        ("enc", "/pdb/cmd/v1", 404),
        ("enc", "/", 404),
        ("ingest", "/admin/", 404),
        ("ingest", "/api/schema/", 404),
        ("ingest", "/pdb/query/v4/nodes", 404),
        ("ingest", "/enc/v1/nodes/a.example", 404),
        ("web", "/enc/v1/nodes/a.example", 404),
        ("web", "/admin/", 302),
        ("web", "/api/schema/", 401),
    ],
)
def test_route_isolation(client, service, path, status):
    with as_service(service):
        assert client.get(path).status_code == status


@pytest.mark.django_db
def test_readyz_healthz_with_unreachable_database_and_broker(tmp_path, artifacts_dir):
    """Real gunicorn processes: a dead database makes every service unready (503) but alive; a
    dead broker makes only web unready, since ingest and enc must keep serving without it."""
    dead_db = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    env = service_env(tmp_path, DATABASE_URL=dead_db, DATABASE_CONNECT_TIMEOUT="2")
    procs = [start_service(name, env, artifacts_dir / "dead-db") for name in SERVICES]
    with running(*procs):
        for proc in procs:
            import requests

            assert requests.get(proc.url + "/healthz", timeout=10).status_code == 200
            ready = requests.get(proc.url + "/readyz", timeout=20)
            assert ready.status_code == 503, (proc.name, ready.text)
            assert ready.json()["checks"]["database"]["ok"] is False
            assert "error" in ready.json()["checks"]["database"]

    env = service_env(tmp_path, CELERY_BROKER_URL=dead_broker, CELERY_RESULT_BACKEND=dead_broker)
    procs = [start_service(name, env, artifacts_dir / "dead-broker") for name in SERVICES]
    with running(*procs):
        import requests

        for proc in procs:
            ready = requests.get(proc.url + "/readyz", timeout=20)
            body = ready.json()
            assert body["checks"]["database"]["ok"] is True
            assert body["checks"]["broker"]["ok"] is False
            assert ready.status_code == (503 if proc.name == "web" else 200), (proc.name, ready.text)
