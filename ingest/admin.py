from django.contrib import admin

from ingest.models import Command


@admin.register(Command)
class CommandAdmin(admin.ModelAdmin):
    list_display = ["uuid", "command", "version", "certname", "state", "attempts", "received_at"]
    list_filter = ["state", "command"]
    search_fields = ["certname", "uuid"]
    show_full_result_count = False
    exclude = ["payload"]
