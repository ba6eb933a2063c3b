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
    env_int,
    env_list,
    env_str,
)

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
DATABASES = {"default": _database}
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
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

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
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured"},
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
