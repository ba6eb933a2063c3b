"""The Celery application. Imported by ``config/__init__`` so that every process (web and ingest
publish tasks; worker and beat run them) uses the same configured app. The settings module comes
from ``DJANGO_SETTINGS_MODULE``, which every entry point sets."""

from celery import Celery

from config import metrics_bootstrap

# ops: a worker's pool processes share Prometheus values through files (before any import of
# prometheus_client); its metrics server is started in config/worker_metrics.py.
if metrics_bootstrap.is_celery_worker():
    metrics_bootstrap.prepare("worker")

app = Celery("stagehand")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["inventory.ui"])  # web UI tasks (issue 6)


@app.task(name="stagehand.ping", ignore_result=False)
def ping(payload: str = "pong") -> str:
    """Round-trip check used by the smoke test and operators: returns its argument."""
    return payload


from config.observability import install_celery_signals  # noqa: E402

install_celery_signals()

from config.worker_metrics import install_worker_metrics  # noqa: E402

install_worker_metrics()
