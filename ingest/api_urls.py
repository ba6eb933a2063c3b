"""``/api/v1/inbox/`` routes (included from ``api/urls.py``)."""

from rest_framework.routers import SimpleRouter

from ingest.api import CommandViewSet

router = SimpleRouter()
router.register("commands", CommandViewSet, basename="inbox-command")

urlpatterns = router.urls
