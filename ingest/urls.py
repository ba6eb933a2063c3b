"""Routes of the ingest app (filled in by its own issue)."""

urlpatterns: list = []
