"""Each process's settings module starts, and a bad value stops it with the variable named."""

import subprocess
import sys

import pytest

from tests.support.stack import BASE_DIR, service_env

SETUP = "import django; django.setup(); print('ok')"


def run_setup(settings_module: str, env: dict) -> subprocess.CompletedProcess:
    env = dict(env, DJANGO_SETTINGS_MODULE=settings_module)
    return subprocess.run(
        [sys.executable, "-c", SETUP], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )


@pytest.mark.django_db
@pytest.mark.parametrize("service", ["web", "enc", "ingest", "worker"])
def test_each_settings_module_loads(service, tmp_path):
    result = run_setup(f"config.settings.{service}", service_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("DATABASE_URL", "mysql://root@localhost/stagehand", "must be a postgresql:// URL"),
        ("DATABASE_URL", "postgresql://localhost:notaport/stagehand", "DATABASE_URL"),
        ("CELERY_BROKER_URL", "kafka://localhost", "must be a redis://"),
        ("LOG_LEVEL", "LOUD", "must be one of"),
        ("WEB_PORT", "http", "must be an integer"),
        ("SECRET_KEY", "short", "at least 32 characters"),
        ("DEBUG", "perhaps", "must be one of"),
        ("SIGNIN_MAX_FAILURES_PER_USER", "many", "must be an integer"),
        ("SIGNIN_MAX_FAILURES_PER_IP", "0", "must be at least 1"),
        ("SIGNIN_FAILURE_WINDOW", "soon", "not a duration"),
    ],
)
def test_bad_configuration_stops_the_process(variable, value, fragment, tmp_path):
    result = run_setup("config.settings.web", service_env(tmp_path, **{variable: value}))
    assert result.returncode != 0
    assert f"configuration error: {variable}" in result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
