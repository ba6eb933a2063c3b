"""No routes: the URLconf of the Celery worker and beat processes."""

urlpatterns: list = []
