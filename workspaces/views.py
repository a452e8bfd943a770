"""Browser pages for workspaces. They render shells; data comes from the API."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from workspaces.api.base import get_workspace_for
from workspaces.models import Membership
from workspaces.roles import EDIT_FILES, MANAGE_MEMBERS


@login_required
def workspace_list(request):
    return render(request, "workspaces/list.html")


def _role(user, workspace) -> str:
    membership = Membership.objects.filter(workspace=workspace, user=user).first()
    if membership:
        return membership.role
    return "admin" if user.is_site_admin else "viewer"


@login_required
def workspace_ide(request, workspace_pk: int):
    workspace = get_workspace_for(request.user, workspace_pk)
    context = {
        "workspace": workspace,
        "role": _role(request.user, workspace),
        "can_edit": request.user.has_perm(f"workspaces.{EDIT_FILES}", workspace),
        # Large files open without language servers, or read-only (docs/protocols.md).
        "editor_lsp_max_bytes": settings.EDITOR_LSP_MAX_BYTES,
        "editor_edit_max_bytes": settings.EDITOR_EDIT_MAX_BYTES,
    }
    return render(request, "workspaces/ide.html", context)


@login_required
def workspace_members(request, workspace_pk: int):
    workspace = get_workspace_for(request.user, workspace_pk)
    context = {"workspace": workspace, "can_manage": request.user.has_perm(f"workspaces.{MANAGE_MEMBERS}", workspace)}
    return render(request, "workspaces/members.html", context)
