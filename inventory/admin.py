from django.contrib import admin

from inventory.models import Catalog, Environment, Node, Producer


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Producer)
class ProducerAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = [
        "certname",
        "latest_report_status",
        "report_timestamp",
        "report_environment",
        "deactivated",
        "expired",
    ]
    list_filter = ["latest_report_status", "latest_report_noop_pending", "report_environment"]
    search_fields = ["certname"]
    show_full_result_count = False  # no COUNT(*) over 50,000 nodes on every page
    list_select_related = ["report_environment"]
    raw_id_fields = ["latest_catalog"]
    readonly_fields = ["created"]


@admin.register(Catalog)
class CatalogAdmin(admin.ModelAdmin):
    list_display = ["node", "environment", "code_id", "valid_from", "valid_to", "compiles"]
    list_select_related = ["node", "environment"]
    search_fields = ["node__certname", "catalog_uuid", "code_id"]
    show_full_result_count = False
    raw_id_fields = ["node", "resource_set", "edge_set"]
