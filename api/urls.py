"""Native REST API routes (``/api/...``). The resources themselves come with the query issue."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("v1/inbox/", include("ingest.api_urls")),  # ingest (issue 3)
    path("v1/groups/", include("enc.api_urls")),  # enc (issue 5): node groups management
    path("v1/", include("reports.orchestration.urls")),  # hooks: runs/wait, events, webhooks, rollout
    # query issue: browsable docs (assets from drf-spectacular-sidecar) and the v1 resources
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("v1/", include("api.v1.urls")),
]
