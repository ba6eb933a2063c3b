"""Settings shared by every Stagehand process. Each service module (web, enc, ingest, worker)
adds its URLconf and middleware on top. Everything comes from environment variables."""

from __future__ import annotations

import secrets
from pathlib import Path

from config import embedded
from config.env import (
    ConfigError,
    env_bool,
    env_broker,
    env_choice,
    env_database,
    env_duration,
    env_float,
    env_int,
    env_list,
    env_str,
)
from config.hardening import parse_certname_scopes, parse_networks

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = embedded.VAR_DIR

SERVICE = "base"

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    value = env_str("SECRET_KEY")
    if value is not None:
        if len(value) < 32:
            raise ConfigError("SECRET_KEY", "must be at least 32 characters long")
        return value
    # Development default: one random key kept under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "inventory",
    "reports",
    "ingest",
    "enc",
    "api",
]

MIDDLEWARE = [
    "config.observability.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.metrics.MetricsMiddleware",  # ops: requests by route/status, latency
    "config.security.AccessPolicyMiddleware",  # ops: who may call which route (config/security.py)
]

ROOT_URLCONF = "config.urls.empty"
# Every process installs the same apps (shared models and migrations), but only web routes the
# admin and carries the session/auth/messages middleware it needs.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
_database = env_database("DATABASE_URL")
EMBEDDED_DATABASE = _database is None
if _database is None:
    _database = embedded.postgres_settings()
_database.setdefault("OPTIONS", {})
_database["OPTIONS"].setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1))
_database["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
_database["CONN_HEALTH_CHECKS"] = True
# config/postgresql: the health check is skipped for a connection used in the last
# DATABASE_HEALTH_CHECK_INTERVAL seconds (0: check before every request).
_database["ENGINE"] = "config.postgresql"
DATABASE_HEALTH_CHECK_INTERVAL = env_float("DATABASE_HEALTH_CHECK_INTERVAL", 1.0, minimum=0.0)
DATABASES = {"default": _database}
# ops: read replica (config/db_router.py). Reads of the web and enc processes go to it.
_replica = env_database("DATABASE_REPLICA_URL")
if _replica is not None:
    _replica.setdefault("OPTIONS", {})
    _replica["OPTIONS"].setdefault("connect_timeout", _database["OPTIONS"]["connect_timeout"])
    _replica["CONN_MAX_AGE"] = _database["CONN_MAX_AGE"]
    _replica["CONN_HEALTH_CHECKS"] = True
    _replica["ENGINE"] = _database["ENGINE"]
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = _replica
DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
REPLICA_READ_SERVICES = env_list("REPLICA_READ_SERVICES", ["web", "enc"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- broker / Celery ------------------------------------------------------------------------
CELERY_BROKER_URL = env_broker("CELERY_BROKER_URL")
EMBEDDED_BROKER = CELERY_BROKER_URL is None
if CELERY_BROKER_URL is None:
    CELERY_BROKER_URL = embedded.redis_url()  # started by `make run` / the test suite
CELERY_RESULT_BACKEND = env_broker("CELERY_RESULT_BACKEND") or CELERY_BROKER_URL
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "stagehand.ingest.*": {"queue": "ingest"},
    "stagehand.housekeeping.*": {"queue": "housekeeping"},
    "stagehand.hooks.*": {"queue": "default"},  # hooks: webhook deliveries, event-history pruning
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- ingest pipeline (issue 3) --------------------------------------------------------------
INGEST_BATCH_SIZE = env_int("INGEST_BATCH_SIZE", 50, minimum=1, maximum=10_000)
INGEST_MAX_ATTEMPTS = env_int("INGEST_MAX_ATTEMPTS", 8, minimum=1)
INGEST_RETRY_BASE_SECONDS = env_int("INGEST_RETRY_BASE_SECONDS", 10, minimum=0)
INGEST_DRAIN_SECONDS = env_int("INGEST_DRAIN_SECONDS", 20, minimum=0)
INGEST_REQUEUE_AFTER = env_int("INGEST_REQUEUE_AFTER", 60, minimum=0)
INGEST_REQUEUE_INTERVAL = env_int("INGEST_REQUEUE_INTERVAL", 30, minimum=1)
CELERY_BEAT_SCHEDULE["ingest-requeue-stuck"] = {
    "task": "stagehand.ingest.requeue_stuck",
    "schedule": float(INGEST_REQUEUE_INTERVAL),
}
INGEST_KEEP_PROCESSED_SECONDS = env_int("INGEST_KEEP_PROCESSED_SECONDS", 3600, minimum=0)
CELERY_BEAT_SCHEDULE["ingest-purge-processed"] = {"task": "stagehand.ingest.purge_processed", "schedule": 600.0}
# --- end ingest pipeline --------------------------------------------------------------------

# --- auth / i18n / static -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
LOGIN_URL = "/accounts/login/"

# --- HTTP limits ----------------------------------------------------------------------------
MAX_COMMAND_BYTES = env_int("MAX_COMMAND_BYTES", 64 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_COMMAND_BYTES

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.HasScope"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stagehand API",
    "DESCRIPTION": "Inventory, reporting and classification for Puppet fleets.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["api.authentication.HasScope"],
}

# --- logging --------------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
LOG_FORMAT = env_choice("LOG_FORMAT", "json", ["json", "keyvalue"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "config.observability.StructuredFormatter", "style": LOG_FORMAT},
    },
    "filters": {"redact_secrets": {"()": "config.hardening.RedactSecretsFilter"}},  # ops: no secrets in logs
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured", "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "celery": {"level": LOG_LEVEL},
    },
}

# --- service ports (used by the launcher and documented in the README) ----------------------
BIND_HOST = env_str("BIND_HOST", "127.0.0.1")
WEB_PORT = env_int("WEB_PORT", 8080, minimum=1, maximum=65535)
INGEST_PORT = env_int("INGEST_PORT", 8081, minimum=1, maximum=65535)
ENC_PORT = env_int("ENC_PORT", 8082, minimum=1, maximum=65535)

# Readiness: which checks make /readyz answer 503. The ENC and ingest processes must keep
# serving while the broker is down (DESIGN §1), so for them the broker is reported only.
READY_REQUIRED_CHECKS = ["database", "broker"]

# --- PuppetDB-compatible API (query issue) ----------------------------------------------------
# Accept unauthenticated reads on /pdb/query/v4, /pdb/meta/v1 and /metrics/v2 (puppetboard and
# pypuppetdb on a trusted network). Default off: a token or a session is required.
PUPPETDB_API_ALLOW_ANONYMOUS = env_bool("PUPPETDB_API_ALLOW_ANONYMOUS", False)
# Native API docs (Swagger UI / Redoc) served from local static files, never a CDN.
INSTALLED_APPS += ["drf_spectacular_sidecar"]  # noqa: F405 - query issue
SPECTACULAR_SETTINGS.update(
    {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
)

# --- web UI (issue 6) -----------------------------------------------------------------------
# The agents' run interval (check-in histogram) and after how long without a report an active node
# counts as unreported (dashboard, node list). The beat job keeps the dashboard's run rollup fresh.
UI_RUN_INTERVAL = env_int("RUN_INTERVAL", 1800, minimum=60)
UI_UNREPORTED_AFTER = env_int("UNREPORTED_AFTER", 7200, minimum=60)
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Sign-in throttle (api/signin_throttle.py): failed password sign-ins per user name and per client
# address (behind TRUSTED_PROXIES: the last X-Forwarded-For hop), kept in PostgreSQL so every web
# process shares them. A run of failures each within the window of the one before counts; at the
# limit, sign-ins are refused until the window has passed since enough of the failures.
# SIGNIN_FAILURE_WINDOW=0 turns the throttle off.
SIGNIN_MAX_FAILURES_PER_USER = env_int("SIGNIN_MAX_FAILURES_PER_USER", 10, minimum=1)
SIGNIN_MAX_FAILURES_PER_IP = env_int("SIGNIN_MAX_FAILURES_PER_IP", 30, minimum=1)
SIGNIN_FAILURE_WINDOW = env_duration("SIGNIN_FAILURE_WINDOW", "15m")
AUTHENTICATION_BACKENDS = ["api.signin_auth.ThrottleBackend", "django.contrib.auth.backends.ModelBackend"]
CELERY_BEAT_SCHEDULE["stagehand.housekeeping.ui_rollup_runs"] = {
    "task": "stagehand.housekeeping.ui_rollup_runs",
    "schedule": 60.0,
}
# Fold changed facts into the ENC's precomputed group membership (enc/fleet.py; 0 disables:
# members pages and previews then catch up themselves, which is slower after many changes).
ENC_FLEET_SYNC_INTERVAL = env_int("ENC_FLEET_SYNC_INTERVAL", 30, minimum=0)
if ENC_FLEET_SYNC_INTERVAL:
    CELERY_BEAT_SCHEDULE["stagehand.housekeeping.enc_fleet_sync"] = {
        "task": "stagehand.housekeeping.enc_fleet_sync",
        "schedule": float(ENC_FLEET_SYNC_INTERVAL),
        "options": {"expires": float(ENC_FLEET_SYNC_INTERVAL)},
    }

# --- ops: lifecycle and retention (inventory/retention.py; docs/operations.md) ----------------
# Durations like 7d, 12h, 30m; 0 disables. PuppetDB's defaults for the first three.
NODE_TTL = env_duration("NODE_TTL", "7d")
NODE_PURGE_TTL = env_duration("NODE_PURGE_TTL", "14d")
REPORT_TTL = env_duration("REPORT_TTL", "14d")
CATALOG_HISTORY_TTL = env_duration("CATALOG_HISTORY_TTL", "30d")
GC_INTERVAL = env_duration("GC_INTERVAL", "60m")
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 500, minimum=1)
RETENTION_LOCK_TIMEOUT_MS = env_int("RETENTION_LOCK_TIMEOUT_MS", 2000, minimum=1)
# A fact path no factset holds is deleted by the first GC run at least this long after the run
# that found it unused (retention.gc_fact_paths); must exceed storage.facts.KNOWN_PATHS_TTL (5m).
FACT_PATH_GC_GRACE = env_duration("FACT_PATH_GC_GRACE", "15m")
if GC_INTERVAL:
    CELERY_BEAT_SCHEDULE.update(
        {
            f"housekeeping-{_task}": {
                "task": f"stagehand.housekeeping.{_task}",
                "schedule": GC_INTERVAL.total_seconds(),
                "options": {"expires": GC_INTERVAL.total_seconds()},
            }
            for _task in (
                "expire_nodes",
                "purge_nodes",
                "purge_reports",
                "gc_catalog_history",
                "gc_packages",
                "gc_fact_paths",
            )
        }
    )
# --- end ops: retention ---------------------------------------------------------------------


# --- ops: access policy (config/security.py; docs/security.md) ------------------------------
def _networks(name: str) -> list[str]:
    values = env_list(name, [])
    try:
        parse_networks(values)
    except ValueError as exc:
        raise ConfigError(name, f"must be comma-separated CIDRs ({exc})") from None
    return values


def _scopes(name: str, default: list[str], allowed=("read", "write", "classify")) -> list[str]:
    values = env_list(name, default)
    unknown = set(values) - set(allowed)
    if unknown:
        raise ConfigError(name, f"unknown or not allowed here: {sorted(unknown)}; allowed: {list(allowed)}")
    return values


# Front proxies whose client-certificate headers (and X-Forwarded-For/-Proto) are believed.
TRUSTED_PROXIES = _networks("TRUSTED_PROXIES")
# Client addresses that get OPEN_NETWORK_SCOPES without credentials (like PuppetDB's plain port).
OPEN_NETWORKS = _networks("OPEN_NETWORKS")
OPEN_NETWORK_SCOPES = _scopes("OPEN_NETWORK_SCOPES", ["read", "write", "classify"])
# Scopes everyone gets without credentials (default none). Never admin.
ANONYMOUS_SCOPES = _scopes("ANONYMOUS_SCOPES", [])
# Certificate allowlist: "<certname pattern>=<scopes>; ..." (fnmatch patterns, first match wins).
CERTNAME_SCOPES = env_str("CERTNAME_SCOPES", "")
try:
    parse_certname_scopes(CERTNAME_SCOPES)
except ValueError as exc:
    raise ConfigError("CERTNAME_SCOPES", str(exc)) from None
CLIENT_VERIFY_HEADER = env_str("CLIENT_VERIFY_HEADER", "X-Client-Verify")
CLIENT_DN_HEADER = env_str("CLIENT_DN_HEADER", "X-Client-DN")
CLIENT_CERTNAME_HEADER = env_str("CLIENT_CERTNAME_HEADER", "X-Client-Certname")
CLIENT_VERIFY_SUCCESS = env_str("CLIENT_VERIFY_SUCCESS", "SUCCESS")
# TLS is terminated by the proxy, which sets X-Forwarded-Proto; under TLS the policy middleware
# marks the session/CSRF cookies Secure and sends CONTENT_SECURITY_POLICY.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
# --- end ops: access policy -----------------------------------------------------------------

# --- orchestration hooks: run waits, event stream, webhooks (reports/orchestration, docs/hooks.md)

# Keep it well below the proxy's server timeout (deploy/haproxy: 120 s): the answer must come first.
RUNS_WAIT_MAX_TIMEOUT = env_int("RUNS_WAIT_MAX_TIMEOUT", 55, minimum=0, maximum=3600)
RUNS_WAIT_MAX_NODES = env_int("RUNS_WAIT_MAX_NODES", 50000, minimum=1)
# Long-polls and event streams each hold a gunicorn thread; at most this many per process at once
# (keep it below --threads so other requests are always served). Extra ones answer at once.
HOOKS_MAX_LONG_REQUESTS = env_int("HOOKS_MAX_LONG_REQUESTS", 2, minimum=1)
HOOKS_POLL_SECONDS = env_float("HOOKS_POLL_SECONDS", 1.0, minimum=0.05)
HOOKS_SAFETY_POLL_SECONDS = env_float("HOOKS_SAFETY_POLL_SECONDS", 15.0, minimum=0.1)
# A busy fleet notifies often: a wait or stream re-reads the database at most this often.
HOOKS_MIN_INTERVAL_SECONDS = env_float("HOOKS_MIN_INTERVAL_SECONDS", 0.25, minimum=0.0)
EVENTS_STREAM_MAX_SECONDS = env_int("EVENTS_STREAM_MAX_SECONDS", 300, minimum=1)
EVENTS_STREAM_HEARTBEAT_SECONDS = env_float("EVENTS_STREAM_HEARTBEAT_SECONDS", 15.0, minimum=0.1)
EVENTS_HISTORY_MAX_ROWS = env_int("EVENTS_HISTORY_MAX_ROWS", 200000, minimum=1)
EVENTS_HISTORY_MAX_AGE_HOURS = env_int("EVENTS_HISTORY_MAX_AGE_HOURS", 72, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 10.0, minimum=0.01)
WEBHOOK_RETRY_MAX_SECONDS = env_float("WEBHOOK_RETRY_MAX_SECONDS", 3600.0, minimum=0.01)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1)
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 20, minimum=1)
HOOKS_WEBHOOK_CACHE_SECONDS = env_float("HOOKS_WEBHOOK_CACHE_SECONDS", 5.0, minimum=0.0)
CELERY_BEAT_SCHEDULE["stagehand.hooks.prune_events"] = {"task": "stagehand.hooks.prune_events", "schedule": 600.0}
CELERY_BEAT_SCHEDULE["stagehand.hooks.requeue_deliveries"] = {
    "task": "stagehand.hooks.requeue_deliveries",
    "schedule": 60.0,
}
# --- end orchestration hooks
