"""Prepare prometheus-client's multiprocess mode before ``prometheus_client`` is imported.

gunicorn (several worker processes) and the Celery worker (a prefork pool) keep each process's
metric values in files under ``PROMETHEUS_MULTIPROC_DIR``, and ``/metrics`` (or the worker's
metrics server) adds them up. The directory must be set before the first import of
``prometheus_client`` in the parent process, and emptied when the service starts; this module
imports nothing from it.

Each running instance needs its own directory: when ``PROMETHEUS_MULTIPROC_DIR`` is unset a fresh
temporary one is made; when it is set (systemd: ``RuntimeDirectory=``), it is emptied.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def prepare(kind: str) -> str:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if path:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        path = tempfile.mkdtemp(prefix=f"stagehand-metrics-{kind}-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def is_celery_worker(argv: list[str] | None = None) -> bool:
    argv = sys.argv if argv is None else argv
    return bool(argv) and Path(argv[0]).name.startswith("celery") and "worker" in argv[1:]
