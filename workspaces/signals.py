"""Workspaces follow their provisioning jobs when the sweeper gives one up; deletions close open IDE pages."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from platform_core.jobs import job_abandoned
from platform_core.models import Job
from workspaces.models import Workspace
from workspaces.services import PROVISION_JOB_KIND


def connect() -> None:
    # Receivers are registered by importing this module; the function makes
    # the import explicit in AppConfig.ready.
    return None


@receiver(job_abandoned, dispatch_uid="workspace_provisioning_abandoned")
def _on_job_abandoned(sender, job: Job, reason: str, **kwargs) -> None:
    if job.kind != PROVISION_JOB_KIND or job.target_type != "workspace":
        return
    if Job.objects.filter(kind=job.kind, target_type=job.target_type, target_id=job.target_id, pk__gt=job.pk).exists():
        return  # someone already asked again: the newer job owns the status
    # update(), not save(): only a workspace still waiting on this job changes.
    Workspace.objects.filter(
        pk=int(job.target_id), status__in=[Workspace.Status.PENDING, Workspace.Status.PROVISIONING]
    ).update(
        status=Workspace.Status.ERROR, status_message=f"Provisioning did not finish. {reason} Retry to run it again."
    )


@receiver(post_delete, sender=Workspace, dispatch_uid="workspace_deleted_close_events")
def _on_workspace_deleted(sender, instance: Workspace, **kwargs) -> None:
    from workspaces.file_events import get_file_events_manager

    workspace_id = instance.pk
    # Once the deletion is committed; a no-op in processes without events sockets (Celery workers).
    transaction.on_commit(lambda: get_file_events_manager().schedule_close_workspace(workspace_id))
