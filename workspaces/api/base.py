from rest_framework.exceptions import PermissionDenied

from workspaces.models import Workspace
from workspaces.roles import VIEW


def get_workspace_for(user, workspace_id, permission: str = VIEW) -> Workspace:
    """The workspace if ``user`` may see it and holds ``permission``.

    Workspaces the user cannot see answer 404 (their existence is not
    revealed); visible ones without the needed right answer 403.
    """
    from django.shortcuts import get_object_or_404

    workspace = get_object_or_404(Workspace.objects.restrict(user, VIEW), pk=workspace_id)
    if permission != VIEW and not user.has_perm(f"workspaces.{permission}", workspace):
        raise PermissionDenied("Your role in this workspace does not allow this.")
    return workspace


class WorkspaceScopedMixin:
    """For views nested under /workspaces/<workspace_pk>/."""

    def get_workspace(self, permission: str = VIEW) -> Workspace:
        return get_workspace_for(self.request.user, self.kwargs["workspace_pk"], permission)
