from django.contrib import admin

from api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_prefix", "scopes", "created", "expires", "revoked", "last_used"]
    readonly_fields = ["key_hash", "key_prefix", "created", "last_used"]
    search_fields = ["name", "key_prefix", "user__username"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked__isnull=True):
            token.revoke()
