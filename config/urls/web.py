"""The web process: UI, native REST API, PuppetDB-compatible query API, and (because PuppetDB
clients use one base URL) the same write routes the ingest process serves."""

from django.contrib import admin
from django.urls import include, path

from config.urls import common, ingest

urlpatterns = [
    *common.urlpatterns,
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("api.puppetdb.urls")),  # query issue: /pdb/query/v4, /pdb/meta/v1, /status/v1, /metrics/v2
    *ingest.write_routes,
    path("pdb/admin/", include("api.pdb_admin_urls")),  # ops: PuppetDB admin API
    path("accounts/", include("inventory.ui.auth_urls")),  # web UI sign-in (issue 6)
    path("", include("inventory.ui.urls")),  # web UI (issue 6)
]
