"""Job rows for long background tasks (after NetBox's JobRunner).

The web side creates the row and enqueues a Celery task with its id; the task
wraps its work in ``run_job`` which moves the row through running ->
succeeded / failed and records progress and a short log on the way.
"""

from collections.abc import Callable
from contextlib import contextmanager

import structlog
from django.utils import timezone

from platform_core.models import Job

logger = structlog.get_logger(__name__)
LOG_LIMIT = 20_000  # characters of job log kept; the tail matters most


def create_job(kind: str, *, target=None, created_by=None) -> Job:
    return Job.objects.create(
        kind=kind,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
        request_id=structlog.contextvars.get_contextvars().get("request_id") or "",
    )


class JobProgress:
    """Handle a running task uses to report progress on its Job row."""

    def __init__(self, job: Job, on_progress: Callable[[int, str], None] | None = None):
        self.job = job
        self._on_progress = on_progress

    def update(self, progress: int, message: str) -> None:
        self.job.progress = max(0, min(100, progress))
        self.job.message = message
        self.append_log(message)
        self.job.save(update_fields=["progress", "message", "log"])
        if self._on_progress:
            self._on_progress(self.job.progress, message)

    def append_log(self, line: str) -> None:
        text = f"{self.job.log}{timezone.now():%H:%M:%S} {line}\n"
        self.job.log = text[-LOG_LIMIT:]


@contextmanager
def run_job(job_id: int, on_progress: Callable[[int, str], None] | None = None):
    """Run the body as job ``job_id``; a raised exception marks it failed and propagates."""
    job = Job.objects.get(pk=job_id)
    job.status = Job.Status.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
    progress = JobProgress(job, on_progress)
    try:
        yield progress
    except Exception as error:
        job.status = Job.Status.FAILED
        job.message = str(error)[:2000] or type(error).__name__
        progress.append_log(f"failed: {job.message}")
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "message", "log", "finished_at"])
        logger.warning("job_failed", job_id=job.pk, kind=job.kind, error=job.message)
        raise
    job.status = Job.Status.SUCCEEDED
    job.progress = 100
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "progress", "finished_at"])
    logger.info("job_succeeded", job_id=job.pk, kind=job.kind, seconds=job.duration_seconds)
