"""Admin pages for webhooks and their deliveries (the UI until the web UI has its own page)."""

from django.contrib import admin

from reports.orchestration.models import Event, Webhook, WebhookAttempt, WebhookDelivery
from reports.orchestration.webhooks import enable, generate_secret


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "enabled", "consecutive_failures", "disabled_reason", "last_success_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "url"]
    readonly_fields = [
        "created",
        "updated",
        "created_by",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
        "last_delivery_at",
        "last_success_at",
    ]
    actions = ["enable_hooks"]

    def get_changeform_initial_data(self, request):
        return {"secret": generate_secret()}

    @admin.action(description="Enable (and clear the failure count)")
    def enable_hooks(self, request, queryset):
        for hook in queryset:
            enable(hook)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started", "response_status", "response_ms", "succeeded", "error"]


@admin.register(WebhookDelivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["uuid", "webhook", "kind", "state", "attempts", "response_status", "response_ms", "created"]
    list_filter = ["state", "kind"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [AttemptInline]
    show_full_result_count = False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "created", "kind", "certname", "environment", "status", "code_id"]
    list_filter = ["kind", "status"]
    search_fields = ["certname"]
    show_full_result_count = False
