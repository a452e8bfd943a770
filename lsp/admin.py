"""The admin page of running language-server sessions (they live in memory, not in the database)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from lsp.manager import get_language_server_manager


def sessions_view(request):
    """/admin/language-servers/: every session of this process, for site admins."""
    if not request.user.is_site_admin:
        raise PermissionDenied
    manager = get_language_server_manager()
    sessions = sorted(
        manager.call(manager.all_health), key=lambda row: (row["workspace_id"], row["user"], row["server"])
    )
    for row in sessions:
        row["memory_mib"] = round(row["memory_bytes"] / 2**20, 1) if row["memory_bytes"] else None
    context = {**admin.site.each_context(request), "title": "Language-server sessions", "sessions": sessions}
    return TemplateResponse(request, "admin/lsp/sessions.html", context)
