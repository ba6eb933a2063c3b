"""The web process: UI, native REST API, PuppetDB-compatible query API (and the write routes)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import MIDDLEWARE

SERVICE = "web"
ROOT_URLCONF = "config.urls.web"

MIDDLEWARE = [
    MIDDLEWARE[0],
    MIDDLEWARE[1],
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    *MIDDLEWARE[2:],
    # Django's CSRF, authentication, messages and clickjacking middleware, stepping aside on the
    # PuppetDB read API and Jolokia metrics (config/middleware.py).
    "config.middleware.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "config.middleware.XFrameOptionsMiddleware",
]
