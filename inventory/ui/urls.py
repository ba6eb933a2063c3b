"""The web UI, mounted at ``/`` by ``config/urls/web.py`` (namespace ``ui``). Each domain keeps its
pages in its own app (``<app>/ui/``); this file puts them together."""

from django.urls import include, path

from api import ui as api_ui
from inventory.ui import fact_views, node_views, views, where_views

app_name = "ui"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("nodes/", views.nodes, name="nodes"),
    path("nodes/<str:certname>/", node_views.node_overview, name="node"),
    path("nodes/<str:certname>/facts/", node_views.node_facts, name="node_facts"),
    path("nodes/<str:certname>/resources/", node_views.node_resources, name="node_resources"),
    path("nodes/<str:certname>/catalogs/", node_views.node_catalogs, name="node_catalogs"),
    path("nodes/<str:certname>/events/", node_views.node_events, name="node_events"),
    path("facts/", fact_views.fact_list, name="facts"),
    path("facts/value/", fact_views.fact_detail, name="fact"),
    path("where/", where_views.where_applied, name="where_applied"),
    path("reports/", include("reports.ui.urls")),
    path("inbox/", include("ingest.ui.urls")),
    path("rollout/", include("reports.orchestration.ui")),  # hooks (issue 8): code rollout progress
    path("classification/", include("enc.ui.urls")),
    path("tokens/", api_ui.token_list, name="tokens"),  # API tokens (issue 7)
    path("tokens/<int:token_id>/revoke/", api_ui.token_revoke, name="token_revoke"),
]
