"""Audit rows for changes made in the Django admin."""

from platform_core import audit


class AuditedAdminMixin:
    """Writes an audit row for every add, change and delete made in this admin.

    Django calls log_addition / log_change / log_deletion for each admin
    action; recording there covers forms, inlines and bulk deletes alike.
    Field values are not copied (they may hold secrets): only the names of the
    fields that changed.
    """

    def log_addition(self, request, obj, message):
        audit.record(request.user, f"admin.{obj._meta.model_name}.add", obj)
        return super().log_addition(request, obj, message)

    def construct_change_message(self, request, form, formsets, add=False):
        # The change message Django builds speaks in verbose names; keep the
        # field names for the audit row.
        request._audit_changed_fields = sorted(form.changed_data)
        return super().construct_change_message(request, form, formsets, add)

    def log_change(self, request, obj, message):
        changed = getattr(request, "_audit_changed_fields", [])
        audit.record(request.user, f"admin.{obj._meta.model_name}.change", obj, metadata={"fields": changed})
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit.record(request.user, f"admin.{obj._meta.model_name}.delete", obj)
        return super().log_deletions(request, queryset)
