"""Structured logging: one line per request and per Celery task, with duration and outcome.

A request id (the ``X-Request-ID`` header, or a new one) is kept in a context variable, sent
along with every Celery task published while handling the request, and logged by the task.
"""

from __future__ import annotations

import contextvars
import logging
import time
import uuid

import orjson
from django.conf import settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
log = logging.getLogger("stagehand.request")
task_log = logging.getLogger("stagehand.task")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class StructuredFormatter(logging.Formatter):
    """Render a record as one JSON object (``style="json"``) or ``key=value`` pairs."""

    def __init__(self, style: str = "json", **kwargs):
        super().__init__()
        self.output = style

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": getattr(settings, "SERVICE", "-") if settings.configured else "-",
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            data["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if self.output == "keyvalue":
            return " ".join(f"{k}={_kv(v)}" for k, v in data.items())
        return orjson.dumps(data, default=str).decode()


def _kv(value) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return orjson.dumps(text).decode()
    return text


class RequestLogMiddleware:
    """Log every request once, with method, path, status and duration; set ``X-Request-ID``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if incoming and len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = request_id
            return response
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            level = logging.ERROR if status >= 500 else logging.INFO
            log.log(
                level,
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "outcome": "ok" if status < 400 else ("client_error" if status < 500 else "server_error"),
                    # Fields a view attached to the request (e.g. PuppetDB's query ``origin``).
                    **(getattr(request, "log_extra", None) or {}),
                },
            )
            request_id_var.reset(token)


def install_celery_signals() -> None:
    """Hook Celery's signals so that every task logs one line and carries the request id."""
    from celery import signals

    started: dict[str, float] = {}

    @signals.before_task_publish.connect(weak=False)
    def _publish(headers=None, **kwargs):
        request_id = request_id_var.get()
        if request_id and headers is not None:
            headers.setdefault("stagehand_request_id", request_id)

    @signals.task_prerun.connect(weak=False)
    def _prerun(task_id=None, task=None, **kwargs):
        started[task_id] = time.perf_counter()
        request_id = getattr(task.request, "stagehand_request_id", None) if task else None
        request_id_var.set(request_id or task_id)

    @signals.task_postrun.connect(weak=False)
    def _postrun(task_id=None, task=None, state=None, **kwargs):
        begun = started.pop(task_id, None)
        duration_ms = round((time.perf_counter() - begun) * 1000, 2) if begun else None
        task_log.log(
            logging.INFO if state in ("SUCCESS", "RETRY", None) else logging.ERROR,
            "task",
            extra={
                "task": task.name if task else None,
                "task_id": task_id,
                "outcome": state,
                "duration_ms": duration_ms,
            },
        )
        request_id_var.set(None)
