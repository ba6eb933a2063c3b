"""Liveness (``/healthz``) and readiness (``/readyz``) endpoints shared by every HTTP service."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.http import require_GET

BROKER_TIMEOUT_SECONDS = 2.0


def check_database(alias: str = "default") -> dict:
    started = time.perf_counter()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        connections[alias].close_if_unusable_or_obsolete()
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:500], "ms": _ms(started)}
    return {"ok": True, "ms": _ms(started)}


def check_broker() -> dict:
    from kombu import Connection

    started = time.perf_counter()
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:500], "ms": _ms(started)}
    return {"ok": True, "ms": _ms(started)}


CHECKS = {"database": check_database, "broker": check_broker}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok", "service": settings.SERVICE})


@require_GET
def readyz(request):
    required = set(settings.READY_REQUIRED_CHECKS)
    checks = {}
    for name, check in CHECKS.items():
        result = check()
        result["required"] = name in required
        checks[name] = result
    if "replica" in settings.DATABASES:  # ops: the read replica, reported (required if listed above)
        checks["replica"] = {**check_database("replica"), "required": "replica" in required}
    ready = all(result["ok"] for result in checks.values() if result["required"])
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "service": settings.SERVICE, "checks": checks},
        status=200 if ready else 503,
    )
