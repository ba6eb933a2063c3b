"""The whole stack started the way `make run` starts it (the launcher and honcho on the Procfile),
on free ports against the test database and broker; a task round-trips; Ctrl-C stops it all."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from config.celery import ping
from tests.support.stack import BASE_DIR, free_port, service_env, wait_http


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_make_run_stack(tmp_path, artifacts_dir):
    ports = {"web": free_port(), "ingest": free_port(), "enc": free_port()}
    env = service_env(
        tmp_path,
        WEB_PORT=str(ports["web"]),
        INGEST_PORT=str(ports["ingest"]),
        ENC_PORT=str(ports["enc"]),
        WEB_WORKERS="1",
        INGEST_WORKERS="1",
        ENC_WORKERS="1",
        WORKER_CONCURRENCY="1",
        STAGEHAND_ADMIN_PASSWORD="smoke-test-password",
    )
    log_path = artifacts_dir / "make-run.log"
    with open(log_path, "wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "config.launcher"],
            env=env,
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        for service, port in ports.items():
            body = wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120, alive=launcher.poll).json()
            assert body["service"] == service
            assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
        # Each process serves only its own routes.
        assert requests.get(f"http://127.0.0.1:{ports['enc']}/admin/", timeout=5).status_code == 404
        assert requests.get(f"http://127.0.0.1:{ports['web']}/admin/login/", timeout=5).status_code == 200

        # A task round-trips through the real broker and the worker honcho started.
        deadline = time.monotonic() + 90
        while True:
            try:
                assert ping.apply_async(args=["smoke"], queue="default").get(timeout=10) == "smoke"
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        children = psutil.Process(launcher.pid).children(recursive=True)
        assert len(children) >= 5  # honcho + web, ingest, enc, worker, beat (and their workers)
    finally:
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        os.killpg(launcher.pid, signal.SIGINT)
        try:
            return_code = launcher.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            raise
    output = log_path.read_text()
    assert return_code == 0, output[-3000:]
    assert "stagehand: stopped" in output
    assert all(not child.is_running() or child.status() == psutil.STATUS_ZOMBIE for child in children)
    # The worker logged the task as one structured line with its duration and outcome.
    task_lines = [json.loads(line[line.index("{") :]) for line in output.splitlines() if '"msg":"task"' in line]
    assert any(line.get("task") == "stagehand.ping" and line.get("outcome") == "SUCCESS" for line in task_lines)
    request_lines = [line for line in output.splitlines() if '"msg":"request"' in line and '"/readyz"' in line]
    assert request_lines, "no request log lines"
