"""Background work on workspaces. Tasks take ids and re-fetch their rows."""

import structlog
from celery import shared_task
from django.db import transaction

from platform_core.jobs import abandon_job, failure_message, run_job, start_job
from workspaces.models import Workspace
from workspaces.runtime import get_runtime

logger = structlog.get_logger(__name__)


def _set_status(workspace_id: int, **fields) -> None:
    # update(), not save(): the row may have been renamed meanwhile, and a
    # deleted workspace simply matches nothing.
    Workspace.objects.filter(pk=workspace_id).update(**fields)


# Safe to run twice, so a worker lost mid-way hands the message back
# (acks_late + reject_on_worker_lost) and the next run starts over:
# provisioning converges (an existing directory is reused, the venv is made
# only when no complete one exists, hooks are rewritten). start_job keeps a
# finished job from running again and gives up after JOB_MAX_ATTEMPTS.
# Time limits: settings.JOB_TIME_LIMITS["workspace.provision"].
@shared_task(name="workspaces.tasks.provision_workspace", acks_late=True, reject_on_worker_lost=True)
def provision_workspace(workspace_id: int, job_id: int) -> None:
    job = start_job(job_id)
    if job is None:
        return
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().filter(pk=workspace_id).first()
        if workspace is not None:
            workspace.status = Workspace.Status.PROVISIONING
            workspace.progress = 0
            workspace.status_message = "Starting"
            workspace.save(update_fields=["status", "progress", "status_message", "updated_at"])
    if workspace is None:
        logger.info("provision_skipped_missing_workspace", workspace_id=workspace_id)
        abandon_job(job, "The workspace was deleted before it was provisioned.")
        return

    def report(percent: int, message: str) -> None:
        _set_status(workspace_id, progress=percent, status_message=message)

    try:
        with run_job(job, on_progress=report) as progress:
            get_runtime(workspace.runtime).provision(workspace_id, progress.update)
    except Exception as error:
        _set_status(workspace_id, status=Workspace.Status.ERROR, status_message=failure_message(job, error))
        return
    _set_status(workspace_id, status=Workspace.Status.READY, progress=100, status_message="")


# Safe to run twice: it moves the directory into the trash with one rename,
# and a second run finds nothing left to move.
@shared_task(name="workspaces.tasks.discard_workspace_files", acks_late=True, reject_on_worker_lost=True)
def discard_workspace_files(workspace_id: int) -> None:
    if Workspace.objects.filter(pk=workspace_id).exists():
        # Only a deleted workspace's files go to the trash; an id in use
        # again (a restored database) must not lose its new files.
        logger.warning("discard_skipped_workspace_exists", workspace_id=workspace_id)
        return
    kept_at = get_runtime().discard(workspace_id)
    logger.info("workspace_files_discarded", workspace_id=workspace_id, kept_at=str(kept_at) if kept_at else None)
