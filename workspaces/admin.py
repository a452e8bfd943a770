from django.contrib import admin, messages

from workspaces import services
from workspaces.models import Membership, Workspace


class MembershipInline(admin.TabularInline):
    """Members shown inline. Changes go through the service functions so that
    object permissions and the audit log stay in step with the roles."""

    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "progress", "runtime", "created_by", "created_at"]
    list_filter = ["status", "runtime"]
    search_fields = ["name"]
    fields = ["name", "status", "progress", "status_message", "runtime", "created_by", "created_at", "updated_at"]
    readonly_fields = ["status", "progress", "status_message", "runtime", "created_by", "created_at", "updated_at"]
    inlines = [MembershipInline]
    actions = ["reprovision"]

    def has_add_permission(self, request):
        return False  # workspaces are created from the app, which provisions them and makes an owner

    def save_model(self, request, obj, form, change):
        if "name" in form.changed_data:
            new_name = obj.name
            obj.refresh_from_db(fields=["name"])
            services.do_rename_workspace(obj, new_name, acting_user=request.user)

    def save_formset(self, request, form, formset, change):
        # formset.save() would write memberships directly; the services keep
        # permissions and the audit log in step. Django's change message reads
        # the three lists below, which formset.save() would otherwise fill.
        workspace = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk and self._apply(request, services.do_remove_member, deleted.instance):
                formset.deleted_objects.append(deleted.instance)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            membership = inline_form.instance
            if membership.pk is None:
                added = self._apply(request, services.do_add_member, workspace, membership.user, membership.role)
                if added:
                    formset.new_objects.append(added)
            elif self._apply(request, services.do_change_member_role, membership, membership.role):
                formset.changed_objects.append((membership, inline_form.changed_data))

    def _apply(self, request, service, *args):
        try:
            return service(*args, acting_user=request.user) or True
        except services.MembershipError as error:
            messages.error(request, str(error))
            return None

    def delete_model(self, request, obj):
        services.do_delete_workspace(obj, acting_user=request.user)

    def delete_queryset(self, request, queryset):
        for workspace in queryset:
            services.do_delete_workspace(workspace, acting_user=request.user)

    @admin.action(description="Re-provision selected workspaces")
    def reprovision(self, request, queryset):
        queued = 0
        for workspace in queryset:
            try:
                services.do_reprovision_workspace(workspace, acting_user=request.user)
            except services.ProvisioningInProgress:
                messages.warning(request, f"{workspace.name} is already being provisioned.")
            else:
                queued += 1
        if queued:
            messages.success(request, f"Provisioning queued for {queued} workspace(s).")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["workspace", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["workspace__name", "user__username"]

    def has_add_permission(self, request):
        return False  # added from the workspace page, through the service

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # removed from the workspace page, through the service (last-owner rule)
