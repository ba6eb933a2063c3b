from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        # Orchestration hooks (issue 8): event-history receivers, Celery tasks, admin pages.
        from reports.orchestration import admin, events, tasks  # noqa: F401

        events.connect()
