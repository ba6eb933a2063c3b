"""Write routes, served by the ingest and the web process (``config.urls.ingest.write_routes``)."""

from django.urls import path

from ingest import views

urlpatterns = [
    path("pdb/cmd/v1", views.command, name="pdb-cmd-v1"),
    path("reports/upload", views.report_upload, name="reports-upload"),
]
