"""Models of the enc app (filled in by its own issue)."""
