from django.apps import AppConfig


class EncConfig(AppConfig):
    name = "enc"
    verbose_name = "Classification (ENC)"
