"""``/pdb/admin/v1/...`` (mounted by the web process)."""

from django.urls import path

from api import pdb_admin

urlpatterns = [
    path("v1/cmd", pdb_admin.AdminCommandView.as_view(), name="pdb-admin-cmd"),
    path("v1/archive", pdb_admin.ArchiveView.as_view(), name="pdb-admin-archive"),
]
