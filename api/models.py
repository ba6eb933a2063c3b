"""Models of the api app (filled in by its own issue)."""
