"""The enc process as the Procfile starts it (``python -m config.enc_server``: granian by default)
against the test database, with the broker port closed: it classifies, a POST's stored facts are
what the next GET of any worker answers with, a SIGHUP respawns the workers while requests keep
being answered, /metrics adds up every worker, and SIGTERM stops it cleanly."""

import signal
import sys
import threading

import pytest
import requests
import yaml

from enc import service
from tests.integration.enc_fixtures import ROOT, make_node, token
from tests.support.stack import free_port, service_env, spawn, wait_http

DEBIAN = ["=", ["fact", "os", "family"], "Debian"]


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_enc_server_classifies_reloads_and_stops(tmp_path, artifacts_dir):
    raw, _ = token(["classify", "read"], "puppetserver")
    make_node("deb1.example", {"os": {"family": "RedHat"}})
    service.create_group({"name": "debian", "parent": ROOT, "rule": DEBIAN, "classes": {"ntp": {}}}, actor="t")
    port = free_port()
    env = service_env(
        tmp_path,
        CELERY_BROKER_URL="redis://127.0.0.1:9/0",
        CELERY_RESULT_BACKEND="redis://127.0.0.1:9/0",
        ENC_PORT=str(port),
        ENC_WORKERS="2",
        ENC_THREADS="2",
    )
    process = spawn("enc-granian", [sys.executable, "-m", "config.enc_server"], env, artifacts_dir)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {raw}"}
    try:
        wait_http(url + "/healthz", process)
        session = requests.Session()

        def classes():
            response = session.get(f"{url}/enc/v1/nodes/deb1.example", headers=headers, timeout=10)
            assert response.status_code == 200, response.text
            return yaml.safe_load(response.text)["classes"]

        for _ in range(6):  # every worker caches the answer for the stored facts
            assert classes() == {}
        body = {"facts": {"os": {"family": "Debian"}}, "producer_timestamp": "2026-06-01T00:00:00Z"}
        response = session.post(f"{url}/enc/v1/nodes/deb1.example", json=body, headers=headers, timeout=10)
        assert response.status_code == 200 and "ntp" in yaml.safe_load(response.text)["classes"]
        for _ in range(6):  # stored facts changed: no worker answers from its old answer
            assert classes() == {"ntp": {}}

        failures: list = []
        answered = []
        stop = threading.Event()

        def hammer():
            s = requests.Session()
            while not stop.is_set():
                try:
                    r = s.get(f"{url}/enc/v1/nodes/deb1.example", headers=headers, timeout=10)
                    (answered if r.status_code == 200 else failures).append(r.status_code)
                except requests.ConnectionError:
                    s = requests.Session()  # a kept-alive connection of a worker that stopped
                except Exception as exc:  # noqa: BLE001 - reported below
                    failures.append(exc)

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            process.popen.send_signal(signal.SIGHUP)
            wait_http(url + "/healthz", process)
            deadline = len(answered) + 50
            while len(answered) < deadline and thread.is_alive():
                stop.wait(0.05)
        finally:
            stop.set()
            thread.join()
        assert not failures, failures[:3]
        assert "gracefully respawning workers" in process.log()
        assert classes() == {"ntp": {}}
        metrics = session.get(f"{url}/metrics", headers=headers, timeout=10)
        assert metrics.status_code == 200 and "stagehand_enc_classifications_total" in metrics.text
        # A supervisor's stop (systemd KillMode=mixed, Kubernetes): SIGTERM to the main process,
        # which stops its workers gracefully and exits 0.
        process.popen.send_signal(signal.SIGTERM)
        assert process.popen.wait(30) == 0, process.log()[-3000:]
        assert "Granian shutdown completed" in process.log()
    finally:
        process.stop(signal.SIGKILL)  # only if still running
