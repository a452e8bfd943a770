from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from platform_core import services
from platform_core.admin_audit import AuditedAdminMixin
from platform_core.models import ApiToken, AuditLog, Job, User

admin.site.site_header = "Devbench administration"
admin.site.site_title = "Devbench admin"


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    list_display = ["username", "email", "site_role", "is_active", "last_login", "date_joined"]
    list_filter = ["site_role", "is_active"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        (
            "Access",
            {
                "fields": ["site_role", "is_active"],
                "description": "Administrators manage everything; auditors read the audit log.",
            },
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "email", "site_role", "password1", "password2"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    fields = readonly_fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # tokens are created by their owners, who see the plaintext once

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.do_revoke_api_token(token, acting_user=request.user)
        messages.success(request, f"Revoked {queryset.count()} token(s).")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor_username",
        "action",
        "target_type",
        "target_label",
        "workspace_name",
        "ip_address",
        "request_id",
    ]
    list_filter = ["action", "target_type", "created_at"]
    search_fields = ["actor_username", "action", "target_label", "workspace_name", "request_id", "ip_address"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditLog._meta.fields]

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.can_read_audit_log

    def has_module_permission(self, request):
        return self.has_view_permission(request)


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "progress",
        "target_type",
        "target_id",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["kind", "target_id", "message", "request_id"]
    readonly_fields = [field.name for field in Job._meta.fields]
