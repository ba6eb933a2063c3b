"""config.enc_server: the enc server command line from the environment (no server started)."""

import pytest

from config import enc_server
from config.env import ConfigError


def test_granian_by_default_with_recycling_options(monkeypatch):
    for name in ("ENC_SERVER", "ENC_WORKER_LIFETIME", "ENC_WORKER_MAX_RSS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENC_PORT", "18999")
    monkeypatch.setenv("ENC_WORKERS", "3")
    argv = enc_server.command([])
    assert argv[0].endswith("/granian") and "config.wsgi:application" in argv
    assert argv[argv.index("--port") + 1] == "18999" and argv[argv.index("--workers") + 1] == "3"
    assert "--respawn-failed-workers" in argv and "--workers-lifetime" not in argv
    monkeypatch.setenv("ENC_WORKER_LIFETIME", "3600")
    monkeypatch.setenv("ENC_WORKER_MAX_RSS", "512")
    argv = enc_server.command(["--backpressure", "8"])
    assert argv[argv.index("--workers-lifetime") + 1] == "3600"
    assert argv[argv.index("--workers-max-rss") + 1] == "512"
    assert argv[-2:] == ["--backpressure", "8"]


def test_gunicorn_on_request_and_bad_values_refused(monkeypatch):
    monkeypatch.setenv("ENC_SERVER", "gunicorn")
    monkeypatch.setenv("BIND_HOST", "0.0.0.0")
    monkeypatch.setenv("ENC_PORT", "8082")
    argv = enc_server.command([])
    assert argv[0].endswith("/gunicorn") and argv[argv.index("--bind") + 1] == "0.0.0.0:8082"
    monkeypatch.setenv("ENC_SERVER", "uwsgi")
    with pytest.raises(ConfigError, match="ENC_SERVER"):
        enc_server.command([])
    monkeypatch.setenv("ENC_SERVER", "granian")
    monkeypatch.setenv("ENC_WORKER_LIFETIME", "30")
    with pytest.raises(ConfigError, match="ENC_WORKER_LIFETIME"):
        enc_server.command([])
