from django.urls import path

from reports.ui import views

urlpatterns = [
    path("", views.report_list, name="reports"),
    path("<int:report_id>/", views.report_detail, name="report"),
]
