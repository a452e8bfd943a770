"""Job rows for long background tasks (after NetBox's JobRunner).

The web side creates the row and enqueues a Celery task with its id; the task
claims the row with ``start_job`` and wraps its work in ``run_job``, which
moves it through running -> succeeded / failed and records progress and a
short log on the way. A job whose worker was lost is failed by the sweeper
(platform_core.job_sweeper) through ``abandon_job``, which tells the job's
owner app through the ``job_abandoned`` signal.
"""

from collections.abc import Callable
from contextlib import contextmanager

import structlog
from celery import current_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from platform_core import process_identity
from platform_core.models import Job

logger = structlog.get_logger(__name__)
LOG_LIMIT = 20_000  # characters of job log kept; the tail matters most

# Sent with ``job`` (already failed) and ``reason`` when a job is given up
# without its task's own error handling having run (worker lost, never
# started, too many attempts), so the app that owns its target can update it.
job_abandoned = Signal()


def create_job(kind: str, *, target=None, created_by=None) -> Job:
    return Job.objects.create(
        kind=kind,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
        request_id=structlog.contextvars.get_contextvars().get("request_id") or "",
    )


def time_limit_seconds(kind: str) -> int:
    """The soft time limit of a kind of job (settings.JOB_TIME_LIMITS)."""
    return settings.JOB_TIME_LIMITS.get(kind, settings.CELERY_TASK_SOFT_TIME_LIMIT)


def hard_time_limit_seconds(kind: str) -> int:
    return time_limit_seconds(kind) + settings.JOB_HARD_TIME_LIMIT_GRACE_SECONDS


def start_job(job_id: int) -> Job | None:
    """Claim job ``job_id`` for this process, or None when it must not run.

    A message can arrive more than once: the worker re-queues it when the
    process running it dies (``reject_on_worker_lost``), and Redis delivers
    unacknowledged messages again after its visibility timeout. A job already
    finished (or failed by the sweeper meanwhile) is not run again, and one
    whose worker was lost too often is failed instead of looping.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("job_missing", job_id=job_id)
            return None
        if job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
            logger.info("job_already_finished", job_id=job.pk, kind=job.kind, status=job.status)
            return None
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            reason = f"Its worker was lost {job.attempts} times while running it (killed or crashed); not trying again."
        else:
            reason = ""
            now = timezone.now()
            me = process_identity.current_process()
            job.status = Job.Status.RUNNING
            job.attempts += 1
            job.started_at = job.heartbeat_at = now
            job.worker_host, job.worker_pid, job.worker_process_start = me.host, me.pid, me.start
            if job.attempts > 1:
                _append_log(job, f"attempt {job.attempts}: the previous worker was lost; starting again")
            job.save(
                update_fields=[
                    "status",
                    "attempts",
                    "started_at",
                    "heartbeat_at",
                    "worker_host",
                    "worker_pid",
                    "worker_process_start",
                    "log",
                ]
            )
    if reason:
        abandon_job(job, reason)
        return None
    return job


class JobProgress:
    """Handle a running task uses to report progress on its Job row."""

    def __init__(self, job: Job, on_progress: Callable[[int, str], None] | None = None):
        self.job = job
        self._on_progress = on_progress

    def update(self, progress: int, message: str) -> None:
        self.job.progress = max(0, min(100, progress))
        self.job.message = message
        self.job.heartbeat_at = timezone.now()
        self.append_log(message)
        self.job.save(update_fields=["progress", "message", "log", "heartbeat_at"])
        if self._on_progress:
            self._on_progress(self.job.progress, message)

    def append_log(self, line: str) -> None:
        _append_log(self.job, line)


def _append_log(job: Job, line: str) -> None:
    text = f"{job.log}{timezone.now():%H:%M:%S} {line}\n"
    job.log = text[-LOG_LIMIT:]


def failure_message(job: Job, error: BaseException) -> str:
    """The text people see for a task that raised ``error``."""
    if isinstance(error, SoftTimeLimitExceeded):
        # The limits in force travel in the task's message, set by the process
        # that queued it; this worker's settings are only the fallback.
        _hard, soft = getattr(current_task.request, "timelimit", None) or (None, None)
        limit = soft or time_limit_seconds(job.kind)
        return f"Stopped after {limit} s: longer than the time limit for this kind of job."
    return str(error)[:2000] or type(error).__name__


@contextmanager
def run_job(job: Job, on_progress: Callable[[int, str], None] | None = None):
    """Run the body as ``job`` (claimed by ``start_job``); a raised exception marks it failed and propagates."""
    progress = JobProgress(job, on_progress)
    try:
        yield progress
    except Exception as error:
        job.status = Job.Status.FAILED
        job.message = failure_message(job, error)
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


def abandon_job(job: Job, reason: str) -> bool:
    """Fail ``job`` for ``reason`` unless it changed since it was read; True if it was failed.

    The update is conditional on the status and heartbeat read by the caller,
    so a job that reported progress (or finished) meanwhile is left alone, and
    several sweepers at once fail a job only once.
    """
    now = timezone.now()
    _append_log(job, f"failed: {reason}")
    failed = Job.objects.filter(pk=job.pk, status=job.status, heartbeat_at=job.heartbeat_at).update(
        status=Job.Status.FAILED, message=reason, log=job.log, finished_at=now
    )
    if not failed:
        return False
    job.status, job.message, job.finished_at = Job.Status.FAILED, reason, now
    logger.warning("job_abandoned", job_id=job.pk, kind=job.kind, reason=reason)
    job_abandoned.send(sender=Job, job=job, reason=reason)
    return True
