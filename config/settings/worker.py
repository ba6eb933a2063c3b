"""Celery worker and beat processes: no HTTP routes."""

from config.settings.base import *  # noqa: F403

SERVICE = "worker"
ROOT_URLCONF = "config.urls.empty"
