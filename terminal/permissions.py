"""Who may use a workspace's terminals and runner.

One check for both, made when a socket connects and again whenever access
changes while it is open (platform_core.access): owners and editors type and
run code (WRITE), viewers watch terminals (READ), anyone else sees nothing.
"""

from django.http import Http404

from workspaces.api.base import get_workspace_for
from workspaces.models import Workspace
from workspaces.roles import USE_TERMINAL

WRITE, READ = "write", "read"


def terminal_access(user, workspace_id: int) -> tuple[Workspace, str] | None:
    """(workspace, WRITE or READ) when ``user`` may see the workspace; None otherwise (the API's rules)."""
    if user is None or not user.is_authenticated:
        return None
    try:
        workspace = get_workspace_for(user, workspace_id)
    except Http404:
        return None
    return workspace, WRITE if user.has_perm(f"workspaces.{USE_TERMINAL}", workspace) else READ


def terminal_level(user, workspace_id: int) -> str | None:
    """WRITE, READ or None: ``terminal_access`` without the workspace (what re-checks compare)."""
    access = terminal_access(user, workspace_id)
    return access[1] if access else None
