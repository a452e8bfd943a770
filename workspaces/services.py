"""State changes of workspaces and memberships.

Each function owns its transaction, keeps guardian permissions in step with
memberships, writes the audit row and schedules background work on commit.
"""

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from platform_core import access, audit
from platform_core.jobs import create_job
from platform_core.models import Job
from workspaces.models import Membership, Workspace
from workspaces.roles import ALL_PERMISSIONS, ROLE_PERMISSIONS

PROVISION_JOB_KIND = "workspace.provision"


class MembershipError(ValueError):
    """A membership change that would leave the workspace in a bad state."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _grant_role(membership: Membership) -> None:
    for permission in ALL_PERMISSIONS:
        remove_perm(permission, membership.user, membership.workspace)
    for permission in ROLE_PERMISSIONS[membership.role]:
        assign_perm(permission, membership.user, membership.workspace)


def _enqueue_provisioning(workspace: Workspace, acting_user) -> None:
    from workspaces.tasks import provision_workspace

    job = create_job(PROVISION_JOB_KIND, target=workspace, created_by=acting_user)
    transaction.on_commit(lambda: provision_workspace.delay(workspace.pk, job.pk))


@transaction.atomic
def do_create_workspace(name: str, *, acting_user) -> Workspace:
    from django.conf import settings

    workspace = Workspace.objects.create(name=name, created_by=acting_user, runtime=settings.WORKSPACE_RUNTIME)
    membership = Membership.objects.create(workspace=workspace, user=acting_user, role=Membership.Role.OWNER)
    _grant_role(membership)
    audit.record(acting_user, "workspace.create", workspace, workspace=workspace, changes={"name": (None, name)})
    _enqueue_provisioning(workspace, acting_user)
    return workspace


class ProvisioningInProgress(RuntimeError):
    """A provisioning of the workspace is already queued or running; a second one would race it."""


@transaction.atomic
def do_reprovision_workspace(workspace: Workspace, *, acting_user) -> Workspace:
    workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
    # The job, not the workspace's status, says whether provisioning is under
    # way: a job whose worker was lost is failed by the sweeper, which frees
    # the workspace for a retry.
    active = Job.objects.filter(
        kind=PROVISION_JOB_KIND,
        target_type=Workspace._meta.model_name,
        target_id=str(workspace.pk),
        status__in=(Job.Status.QUEUED, Job.Status.RUNNING),
    )
    if active.exists():
        raise ProvisioningInProgress("The workspace is already being provisioned; wait for it to finish.")
    old_status = workspace.status
    workspace.status = Workspace.Status.PENDING
    workspace.status_message = ""
    workspace.progress = 0
    workspace.save(update_fields=["status", "status_message", "progress", "updated_at"])
    audit.record(
        acting_user,
        "workspace.reprovision",
        workspace,
        workspace=workspace,
        changes={"status": (old_status, workspace.status)},
    )
    _enqueue_provisioning(workspace, acting_user)
    return workspace


@transaction.atomic
def do_rename_workspace(workspace: Workspace, name: str, *, acting_user) -> Workspace:
    workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
    old_name = workspace.name
    if old_name == name:
        return workspace
    workspace.name = name
    workspace.save(update_fields=["name", "updated_at"])
    audit.record(acting_user, "workspace.rename", workspace, workspace=workspace, changes={"name": (old_name, name)})
    return workspace


@transaction.atomic
def do_delete_workspace(workspace: Workspace, *, acting_user) -> None:
    """Delete the workspace; its files move to the runtime's trash, not oblivion."""
    from workspaces.tasks import discard_workspace_files

    workspace_id = workspace.pk
    audit.record(
        acting_user, "workspace.delete", workspace, workspace=workspace, changes={"name": (workspace.name, None)}
    )
    # Guardian's generic permission rows do not cascade with the object.
    UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Workspace), object_pk=str(workspace_id)
    ).delete()
    workspace.delete()
    transaction.on_commit(lambda: discard_workspace_files.delay(workspace_id))


def _owner_count(workspace: Workspace) -> int:
    return workspace.memberships.filter(role=Membership.Role.OWNER).count()


@transaction.atomic
def do_add_member(workspace: Workspace, user, role: str, *, acting_user) -> Membership:
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise MembershipError("already_member", f"{user.get_username()} is already a member of this workspace.")
    if not user.is_active:
        raise MembershipError("inactive_user", f"{user.get_username()} is deactivated.")
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    _grant_role(membership)
    audit.record(
        acting_user,
        "member.add",
        membership,
        workspace=workspace,
        changes={"role": (None, role)},
        metadata={"user": user.get_username()},
    )
    access.announce_access_change("member_added", user_id=user.pk, workspace_id=workspace.pk)
    return membership


@transaction.atomic
def do_change_member_role(membership: Membership, role: str, *, acting_user) -> Membership:
    membership = Membership.objects.select_for_update().select_related("workspace", "user").get(pk=membership.pk)
    old_role = membership.role
    if old_role == role:
        return membership
    if old_role == Membership.Role.OWNER and _owner_count(membership.workspace) <= 1:
        raise MembershipError("last_owner", "A workspace needs at least one owner: make someone else owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    _grant_role(membership)
    audit.record(
        acting_user,
        "member.role_change",
        membership,
        workspace=membership.workspace,
        changes={"role": (old_role, role)},
        metadata={"user": membership.user.get_username()},
    )
    # Open terminals, runners and language servers of the member follow the new role.
    access.announce_access_change(
        "member_role_changed", user_id=membership.user_id, workspace_id=membership.workspace_id
    )
    return membership


@transaction.atomic
def do_remove_member(membership: Membership, *, acting_user) -> None:
    membership = Membership.objects.select_for_update().select_related("workspace", "user").get(pk=membership.pk)
    if membership.role == Membership.Role.OWNER and _owner_count(membership.workspace) <= 1:
        raise MembershipError("last_owner", "The last owner cannot be removed: make someone else owner first.")
    for permission in ALL_PERMISSIONS:
        remove_perm(permission, membership.user, membership.workspace)
    audit.record(
        acting_user,
        "member.remove",
        membership,
        workspace=membership.workspace,
        changes={"role": (membership.role, None)},
        metadata={"user": membership.user.get_username()},
    )
    access.announce_access_change("member_removed", user_id=membership.user_id, workspace_id=membership.workspace_id)
    membership.delete()


def record_file_deleted(workspace: Workspace, path: str, kind: str, *, acting_user) -> None:
    audit.record(acting_user, "file.delete", None, workspace=workspace, metadata={"path": path, "type": kind})
