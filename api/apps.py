from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"

    def ready(self):
        from api import signin_auth  # noqa: F401 - connects the sign-in throttle's signal receivers
