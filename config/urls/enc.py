"""The ENC process: classification only."""

from django.urls import include, path

from config.urls import common

urlpatterns = [
    *common.urlpatterns,
    path("enc/", include("enc.urls")),
]
