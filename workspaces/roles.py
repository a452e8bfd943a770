"""What each workspace role may do, as guardian object permissions."""

from workspaces.models import Membership

VIEW = "view_workspace"
RENAME = "change_workspace"
DELETE = "delete_workspace"
EDIT_FILES = "edit_workspace_files"
USE_TERMINAL = "use_workspace_terminal"
MANAGE_MEMBERS = "manage_workspace_members"

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Membership.Role.VIEWER: (VIEW,),
    Membership.Role.EDITOR: (VIEW, EDIT_FILES, USE_TERMINAL),
    Membership.Role.OWNER: (VIEW, EDIT_FILES, USE_TERMINAL, RENAME, MANAGE_MEMBERS, DELETE),
}
ALL_PERMISSIONS = ROLE_PERMISSIONS[Membership.Role.OWNER]
