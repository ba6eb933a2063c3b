from django.urls import path

from ingest.ui import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("replay/", views.inbox_replay, name="inbox_replay"),
    path("<int:command_id>/", views.command_detail, name="command"),
]
