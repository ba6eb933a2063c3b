"""gunicorn settings shared by the web, ingest and enc processes (``-c config/gunicorn.py``).

The bind address and worker count come from the command line in the Procfile / systemd units;
request logging is done by Stagehand's own middleware, so gunicorn's access log is off.
"""

import os

accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 20
keepalive = 5
# Load the application in each worker after fork, so a database connection is never shared.
preload_app = False
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10 if max_requests else 0
# gunicorn's runtime control socket (gunicornc) is not used; its default path is one per user,
# so the web and ingest processes on one host would fight over it (an ERROR line at start).
control_socket_disable = True
# The worker heartbeat touches a file on every turn of a worker's event loop (per request with
# gthread); on a disk-backed /tmp that is an inode update each time. gunicorn's documentation
# recommends a memory-backed directory: /dev/shm where there is one.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)

# --- ops: Prometheus multiprocess mode (config/metrics_bootstrap.py) ---------------------------
from config import metrics_bootstrap  # noqa: E402

metrics_bootstrap.prepare("gunicorn")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
