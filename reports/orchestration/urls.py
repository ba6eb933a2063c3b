"""``/api/v1/`` routes of the orchestration hooks (included from ``api/urls.py``)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from reports.orchestration import api

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", api.WebhookViewSet, basename="hooks-webhook")

urlpatterns = [
    path("runs/wait", api.RunWaitView.as_view(), name="hooks-runs-wait"),
    path("runs/client/stagehand-wait", api.WaitClientView.as_view(), name="hooks-wait-client"),
    path("events/stream", api.EventStreamView.as_view(), name="hooks-events-stream"),
    path("events", api.EventListView.as_view(), name="hooks-events"),
    path("rollout", api.RolloutView.as_view(), name="hooks-rollout"),
    path(
        "webhooks/<int:pk>/deliveries/<uuid:delivery>",
        api.DeliveryDetailView.as_view(),
        name="hooks-delivery-detail",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<uuid:delivery>/redeliver",
        api.RedeliverView.as_view(),
        name="hooks-delivery-redeliver",
    ),
    *router.urls,
]
