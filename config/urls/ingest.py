"""The ingest process: write endpoints only. ``write_routes`` is mounted by the web process too."""

from django.urls import include, path

from config.urls import common

write_routes = [
    path("", include("ingest.urls")),
]

urlpatterns = [
    *common.urlpatterns,
    *write_routes,
]
