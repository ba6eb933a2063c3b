"""Start real Stagehand processes (gunicorn services, Celery workers) for tests.

Every helper takes the environment the child should see (``service_env``), picks free ports on
loopback, waits until the process answers, and stops it (and its children) on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests
from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict | None = None) -> str:
    """The URL of the database the tests use (the test database once pytest-django set it up)."""
    db = settings_dict or connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(db.get("HOST") or "", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}{host}{port}/{db['NAME']}"


def service_env(tmp_path: Path | None = None, **overrides: str) -> dict:
    """Environment for a child process: the test database and broker, quiet logs."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_RESULT_BACKEND=settings.CELERY_RESULT_BACKEND,
        PYTHONUNBUFFERED="1",
        # ops: open loopback for read/write like config/settings/test.py (production is closed).
        OPEN_NETWORKS="127.0.0.1/32",
        OPEN_NETWORK_SCOPES="read,write",
    )
    if tmp_path is not None:
        env["STAGEHAND_VAR_DIR"] = str(tmp_path / "var")
    env.update(overrides)
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path
    url: str | None = None
    extra: dict = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group at once (a crash, not a shutdown)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)


def spawn(name: str, argv: list[str], env: dict, log_dir: Path) -> Process:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    handle = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    popen = subprocess.Popen(
        argv, env=env, cwd=BASE_DIR, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Process(name=name, popen=popen, log_path=log_path)


def wait_http(
    url: str, process: Process | None = None, timeout: float = 60, status: int | None = 200, alive=None, **get_kwargs
) -> requests.Response:
    """Poll ``url`` until it answers ``status``; fail early when the process (or ``alive()``,
    a ``Popen.poll``-like callable) has exited. ``get_kwargs`` go to ``requests.get`` (e.g. TLS
    ``verify``/``cert``)."""
    deadline = time.monotonic() + timeout
    last: Exception | str = "no attempt"
    while time.monotonic() < deadline:
        if alive is not None and alive() is not None:
            raise RuntimeError(f"the process serving {url} exited")
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{process.log()[-4000:]}")
        try:
            response = requests.get(url, timeout=5, **get_kwargs)
            if status is None or response.status_code == status:
                return response
            last = f"HTTP {response.status_code}: {response.text[:300]}"
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.2)
    log = process.log()[-4000:] if process else ""
    raise TimeoutError(f"{url} not ready after {timeout}s ({last})\n{log}")


def start_service(
    service: str,
    env: dict,
    log_dir: Path,
    port: int | None = None,
    workers: int = 1,
    *,
    tls: dict | None = None,
    name: str | None = None,
) -> Process:
    """Start one gunicorn service (web, ingest or enc) and wait for its /healthz.

    With ``tls`` (``tests.support.pki.make_pki``'s paths) it serves HTTPS and requires client
    certificates signed by that CA, as a Puppet-facing PuppetDB does."""
    port = port or free_port()
    argv = [
        str(BIN_DIR / "gunicorn"),
        "config.wsgi",
        "-c",
        str(BASE_DIR / "config" / "gunicorn.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        "4",
    ]
    check: dict = {}
    if tls is not None:
        argv += ["--certfile", str(tls["server_cert"]), "--keyfile", str(tls["server_key"])]
        argv += ["--ca-certs", str(tls["ca"]), "--cert-reqs", "2"]  # 2: CERT_REQUIRED
        check = {"verify": str(tls["ca"]), "cert": (str(tls["client_cert"]), str(tls["client_key"]))}
    child_env = dict(env, DJANGO_SETTINGS_MODULE=f"config.settings.{service}")
    process = spawn(name or service, argv, child_env, log_dir)
    process.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    wait_http(process.url + "/healthz", process, **check)
    return process


def start_worker(
    env: dict, log_dir: Path, name: str = "worker", concurrency: int = 1, queues: str = "ingest,housekeeping,default"
) -> Process:
    """Start a real Celery worker and wait until it answers a ping task."""
    argv = [
        str(BIN_DIR / "celery"),
        "-A",
        "config",
        "worker",
        "--queues",
        queues,
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{name}-{os.getpid()}-{free_port()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    child_env = dict(env, DJANGO_SETTINGS_MODULE="config.settings.worker")
    process = spawn(name, argv, child_env, log_dir)
    from config.celery import ping

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"worker exited with {process.popen.returncode}:\n{process.log()[-4000:]}")
        try:
            if ping.apply_async(args=["ready"], queue="default").get(timeout=5) == "ready":
                return process
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    process.stop()
    raise TimeoutError(f"worker did not answer a ping:\n{process.log()[-4000:]}")


@contextlib.contextmanager
def running(*processes: Process) -> Iterator[tuple[Process, ...]]:
    try:
        yield processes
    finally:
        for process in reversed(processes):
            process.stop()
