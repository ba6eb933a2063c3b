from django.contrib import admin

from reports.models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["certname", "producer_timestamp", "status", "noop", "environment", "source"]
    list_filter = ["status", "noop", "source"]
    search_fields = ["certname", "hash", "transaction_uuid"]
    show_full_result_count = False
    raw_id_fields = ["node"]
    exclude = ["metrics", "logs", "resources"]
