"""WSGI entry point; the service is chosen by DJANGO_SETTINGS_MODULE (config.settings.web|enc|ingest)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")

application = get_wsgi_application()
