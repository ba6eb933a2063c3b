"""Routes of the ``enc`` process (mounted at ``/enc/``)."""

from django.urls import path

from enc import client_views, views

urlpatterns = [
    path("v1/nodes/<str:certname>", views.classify, name="enc-classify"),
    path("v1/nodes/<str:certname>/explain", views.explain, name="enc-explain"),
    path("v1/client/stagehand-enc", client_views.client_script, name="enc-client"),
]
