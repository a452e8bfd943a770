from django.conf import settings
from django.db import models


class WorkspaceQuerySet(models.QuerySet):
    def restrict(self, user, permission: str = "view_workspace"):
        """Workspaces on which ``user`` holds ``permission``.

        The one place that turns object permissions into querysets: views, the
        API, WebSocket consumers and tasks all go through it. Site admins
        (superusers) see every workspace.
        """
        from guardian.shortcuts import get_objects_for_user

        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        return get_objects_for_user(
            user, f"workspaces.{permission}", klass=self, accept_global_perms=False, with_superuser=True
        )


class Workspace(models.Model):
    """A team's project: a directory with its own virtualenv, owned through memberships.

    Provisioning happens in a Celery job; status, progress and the error text
    mirror that job so the UI can show them without reading job rows.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROVISIONING = "provisioning", "Provisioning"
        READY = "ready", "Ready"
        ERROR = "error", "Error"

    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    status_message = models.TextField(blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    runtime = models.CharField(max_length=16, default="local")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        permissions = [
            ("edit_workspace_files", "Can edit files in the workspace"),
            ("use_workspace_terminal", "Can use terminals in the workspace"),
            ("manage_workspace_members", "Can manage workspace members"),
        ]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's role in a workspace; the role maps to guardian object permissions.

    Rows change only through workspaces.services, which keeps the object
    permissions in step with the role.
    """

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "user__username"]
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} in {self.workspace} ({self.role})"
