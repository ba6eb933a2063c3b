"""WSGI entry point; the service is chosen by DJANGO_SETTINGS_MODULE (config.settings.web|enc|ingest)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.web")

application = get_wsgi_application()


def _freeze_startup_objects() -> None:
    """Move everything loaded at startup (Django, the URL configuration and the views it imports)
    out of the cyclic garbage collector's reach. They live as long as the worker, yet every full
    (generation 2) collection walked them: ~45 ms each on the web process, a stall that landed on
    whichever request triggered it (the p99 of otherwise 10-30 ms queries). Each worker imports
    this module after the fork, so the frozen objects are its own."""
    from django.conf import settings
    from django.urls import get_resolver

    get_resolver(settings.ROOT_URLCONF).url_patterns  # noqa: B018 - import the views now
    gc.collect()
    gc.freeze()


_freeze_startup_objects()
