"""Management API routes, mounted at ``/api/v1/groups/`` by ``api/urls.py``."""

from django.urls import path

from enc import api

urlpatterns = [
    path("", api.GroupList.as_view(), name="enc-groups"),
    path("validate-rule/", api.ValidateRule.as_view(), name="enc-validate-rule"),
    path("translate/", api.TranslateRule.as_view(), name="enc-translate"),
    path("preview/", api.PreviewRule.as_view(), name="enc-preview"),
    path("audit/", api.AuditLog.as_view(), name="enc-audit"),
    path("<uuid:pk>/", api.GroupDetail.as_view(), name="enc-group"),
    path("<uuid:pk>/rules/", api.GroupRules.as_view(), name="enc-group-rules"),
    path("<uuid:pk>/nodes/", api.GroupMembers.as_view(), name="enc-group-nodes"),
    path("<uuid:pk>/audit/", api.AuditLog.as_view(), name="enc-group-audit"),
]
