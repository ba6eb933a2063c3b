"""Two real ``enc`` gunicorn processes (two workers each, threads) against the test database, with
no broker, web process or worker running: every answer after a change commits reflects it, and
no answer ever mixes two classification versions."""

import threading

import pytest
import requests
import yaml

from enc import service
from tests.integration.enc_fixtures import ROOT, make_node, token
from tests.support.stack import running, service_env, start_service

DEBIAN = ["=", ["fact", "os", "family"], "Debian"]


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_two_enc_processes_never_serve_a_stale_or_mixed_version(tmp_path, artifacts_dir):
    raw, _ = token(["classify"], "puppetserver")
    make_node("deb1.example", {"os": {"family": "Debian"}})
    group = service.create_group(
        {"name": "debian", "parent": ROOT, "rule": DEBIAN, "classes": {"app": {"a": 0, "b": 0}}}, actor="t"
    )
    # The broker URL points at a closed port: the enc process must not need it.
    env = service_env(
        tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:9/0", CELERY_RESULT_BACKEND="redis://127.0.0.1:9/0"
    )
    enc1 = start_service("enc", env, artifacts_dir, workers=2)
    enc2 = start_service("enc", env, artifacts_dir, workers=2)
    headers = {"Authorization": f"Bearer {raw}"}
    session = requests.Session()

    def ask(process):
        response = session.get(f"{process.url}/enc/v1/nodes/deb1.example", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return int(response.headers["X-Stagehand-Classification-Version"]), yaml.safe_load(response.text)

    observed: list = []
    stop = threading.Event()
    errors: list = []

    def hammer(process):
        s = requests.Session()
        while not stop.is_set():
            try:
                r = s.get(f"{process.url}/enc/v1/nodes/deb1.example", headers=headers, timeout=10)
                observed.append((int(r.headers["X-Stagehand-Classification-Version"]), yaml.safe_load(r.text)))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    with running(enc1, enc2):
        # Warm every worker's cache with the current version.
        for _ in range(8):
            ask(enc1), ask(enc2)
        threads = [threading.Thread(target=hammer, args=(p,)) for p in (enc1, enc2, enc1, enc2)]
        for t in threads:
            t.start()
        try:
            for i in range(1, 21):
                service.update_group(group.id, {"classes": {"app": {"a": i, "b": i}}}, actor="t")
                # The very next request to either process, any worker, answers the new state.
                for process in (enc1, enc2, enc1, enc2):
                    _, answer = ask(process)
                    assert answer["classes"]["app"] == {"a": i, "b": i}
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not errors, errors[:3]
        assert len(observed) > 20
        # Every concurrent answer is one whole version: a and b always agree, and a version
        # number always comes with the same values.
        by_version: dict[int, set] = {}
        for version, answer in observed:
            params = answer["classes"]["app"]
            assert params["a"] == params["b"], params
            by_version.setdefault(version, set()).add(params["a"])
        assert all(len(values) == 1 for values in by_version.values()), by_version
        # readiness does not depend on the broker for the enc process
        ready = session.get(f"{enc1.url}/readyz", timeout=10).json()
        assert ready["status"] == "ok" and ready["checks"]["broker"]["ok"] is False
