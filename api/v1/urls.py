"""Native REST API v1 routes of the query issue (nodes, facts, catalogs, resources, reports,
events, environments, where-applied). Other areas register their own ``/api/v1/...`` routes."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from api.v1 import views

router = DefaultRouter()
router.register("nodes", views.NodeViewSet, basename="node")
router.register("facts", views.FactsetViewSet, basename="factset")
router.register("fact-paths", views.FactPathViewSet, basename="factpath")
router.register("catalogs", views.CatalogViewSet, basename="catalog")
router.register("resources", views.ResourceViewSet, basename="resource")
router.register("reports", views.ReportViewSet, basename="report")
router.register("resource-events", views.EventViewSet, basename="resource-event")  # /events is the hooks' feed
router.register("environments", views.EnvironmentViewSet, basename="environment")

urlpatterns = [
    path("where-applied", views.WhereAppliedView.as_view(), name="where-applied"),
    *router.urls,
]
