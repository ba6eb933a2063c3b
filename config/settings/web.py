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
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
