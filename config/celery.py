"""The Celery application. Imported by ``config/__init__`` so that every process (web and ingest
publish tasks; worker and beat run them) uses the same configured app. The settings module comes
from ``DJANGO_SETTINGS_MODULE``, which every entry point sets."""

from celery import Celery

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
