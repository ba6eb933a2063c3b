from django.urls import path

from enc.ui import views

urlpatterns = [
    path("", views.group_tree, name="classification"),
    path("new/", views.group_new, name="enc_group_new"),
    path("preview/", views.rule_preview, name="enc_preview"),
    path("audit/", views.audit_log, name="enc_audit"),
    path("<str:group_id>/", views.group_detail, name="enc_group"),
    path("<str:group_id>/members/", views.group_members, name="enc_members"),
    path("<str:group_id>/members/list/", views.group_members_list, name="enc_members_list"),
    path("<str:group_id>/edit/", views.group_edit, name="enc_group_edit"),
    path("<str:group_id>/delete/", views.group_delete, name="enc_group_delete"),
]
