"""``/metrics`` for the Celery worker: a small HTTP server in the worker's main process on
``WORKER_METRICS_PORT`` (unset or 0: off), bound to ``WORKER_METRICS_BIND`` (default 127.0.0.1),
serving the pool processes' metrics (multiprocess mode) and the inbox gauges."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("stagehand.metrics")


def install_worker_metrics() -> None:
    from celery import signals

    @signals.worker_init.connect(weak=False)
    def _start_server(**kwargs):
        from config.env import env_int, env_str

        port = env_int("WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)
        if not port:
            return
        from prometheus_client import start_http_server

        from config import metrics

        # A fresh registry in multiprocess mode (always, for a worker started by `celery worker`),
        # else the process's default one (this server is its only reader).
        registry = metrics.process_registry()
        registry.register(metrics.InboxCollector())
        bind = env_str("WORKER_METRICS_BIND", "127.0.0.1")
        start_http_server(port, addr=bind, registry=registry)
        log.info("worker metrics server listening", extra={"bind": bind, "port": port})

    @signals.worker_process_shutdown.connect(weak=False)
    def _mark_dead(pid=None, **kwargs):
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid or os.getpid())
