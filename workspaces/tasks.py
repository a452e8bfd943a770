"""Background work on workspaces. Tasks take ids and re-fetch their rows."""

import structlog
from celery import shared_task
from django.db import transaction

from platform_core.jobs import run_job
from workspaces.models import Workspace
from workspaces.runtime import get_runtime

logger = structlog.get_logger(__name__)


def _set_status(workspace_id: int, **fields) -> None:
    # update(), not save(): the row may have been renamed meanwhile, and a
    # deleted workspace simply matches nothing.
    Workspace.objects.filter(pk=workspace_id).update(**fields)


@shared_task(name="workspaces.tasks.provision_workspace")
def provision_workspace(workspace_id: int, job_id: int) -> None:
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().filter(pk=workspace_id).first()
        if workspace is None:
            logger.info("provision_skipped_missing_workspace", workspace_id=workspace_id)
            return
        workspace.status = Workspace.Status.PROVISIONING
        workspace.progress = 0
        workspace.status_message = "Starting"
        workspace.save(update_fields=["status", "progress", "status_message", "updated_at"])

    def report(percent: int, message: str) -> None:
        _set_status(workspace_id, progress=percent, status_message=message)

    try:
        with run_job(job_id, on_progress=report) as job:
            get_runtime(workspace.runtime).provision(workspace_id, job.update)
    except Exception as error:
        _set_status(
            workspace_id, status=Workspace.Status.ERROR, status_message=str(error)[:2000] or type(error).__name__
        )
        return
    _set_status(workspace_id, status=Workspace.Status.READY, progress=100, status_message="")


@shared_task(name="workspaces.tasks.discard_workspace_files")
def discard_workspace_files(workspace_id: int) -> None:
    if Workspace.objects.filter(pk=workspace_id).exists():
        # Only a deleted workspace's files go to the trash; an id in use
        # again (a restored database) must not lose its new files.
        logger.warning("discard_skipped_workspace_exists", workspace_id=workspace_id)
        return
    kept_at = get_runtime().discard(workspace_id)
    logger.info("workspace_files_discarded", workspace_id=workspace_id, kept_at=str(kept_at) if kept_at else None)
