"""Fail jobs whose worker was lost, so nothing stays "running" forever.

A worker killed mid-task (OOM killer, kill -9, a container stopped hard, a
machine that died) never gets to mark its job failed. With the embedded
filesystem broker its message is gone too (kombu's filesystem transport
deletes a message file when it hands the message out; acknowledging is a
no-op); with Redis it comes back only after the visibility timeout. The
sweeper fails such jobs with a message that says what happened, and the
job's owner app (``platform_core.jobs.job_abandoned``) updates its target,
e.g. the workspace becomes "error" with a retry.

A job is lost when:

- it is running and the process that claimed it is gone: known at once for
  processes on this host (``platform_core.process_identity``);
- it is running and has shown no sign of life (start or progress) for longer
  than its kind's hard time limit plus ``JOB_STALE_MARGIN_SECONDS``: no live
  worker lets a task run that long, so this holds for workers on any host;
- it is still queued after ``JOB_QUEUED_TIMEOUT_SECONDS``: its message was lost
  with a worker, or no worker consumes its queue.

Every Celery worker sweeps once when it is ready and then every
``JOB_SWEEP_INTERVAL_SECONDS`` on a thread of its main process; ``manage.py
sweep_jobs`` sweeps on demand. There is no beat schedule: only a process on
the worker's own host can tell that a pid is gone, so each worker host must
sweep anyway, and sweeping from several processes at once is safe
(``abandon_job`` updates conditionally, so a job is failed once and a job that
moved meanwhile is left alone).
"""

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connections
from django.utils import timezone

from platform_core import process_identity
from platform_core.jobs import abandon_job, hard_time_limit_seconds
from platform_core.models import Job

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SweptJob:
    job: Job
    reason: str


def sweep_stale_jobs(*, now: datetime | None = None, dry_run: bool = False) -> list[SweptJob]:
    """Fail every lost job (see the module docstring); returns them with the reasons given."""
    now = now or timezone.now()
    swept = []
    candidates = Job.objects.filter(status__in=[Job.Status.RUNNING, Job.Status.QUEUED]).order_by("id")
    for job in candidates.iterator():
        reason = why_lost(job, now)
        if reason is None:
            continue
        if dry_run or abandon_job(job, reason):
            swept.append(SweptJob(job, reason))
    if swept and not dry_run:
        logger.warning("jobs_swept", count=len(swept), job_ids=[item.job.pk for item in swept])
    return swept


def why_lost(job: Job, now: datetime) -> str | None:
    """Why ``job`` counts as lost, or None while it may still be alive."""
    if job.status == Job.Status.QUEUED:
        waited = now - job.created_at
        if waited > timedelta(seconds=settings.JOB_QUEUED_TIMEOUT_SECONDS):
            return (
                f"No worker started this job within {_duration(waited)}: its message was lost with a "
                "stopped worker, or no worker is running."
            )
        return None
    hard_limit = hard_time_limit_seconds(job.kind)
    ran_too_long = job.started_at is not None and (now - job.started_at).total_seconds() > hard_limit
    if job.worker_pid is not None:
        worker = process_identity.ProcessIdentity(job.worker_host, job.worker_pid, job.worker_process_start)
        if process_identity.is_gone(worker):
            if ran_too_long:
                return (
                    f"The worker process running this job (pid {job.worker_pid} on {job.worker_host}) was "
                    f"stopped after exceeding the job's time limit of {hard_limit} s."
                )
            return (
                f"The worker process running this job (pid {job.worker_pid} on {job.worker_host}) stopped "
                "before the job finished: it was killed or crashed."
            )
    last_sign_of_life = job.heartbeat_at or job.started_at or job.created_at
    silent = now - last_sign_of_life
    if silent > timedelta(seconds=hard_limit + settings.JOB_STALE_MARGIN_SECONDS):
        return (
            f"No sign of life from this job for {_duration(silent)}, longer than its time limit of "
            f"{hard_limit} s: its worker was lost."
        )
    return None


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


class PeriodicSweeper:
    """Sweeps every ``interval`` seconds on a daemon thread, until stopped."""

    def __init__(self, interval: float):
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            sweep_once_safely()


def sweep_once_safely() -> None:
    """One sweep that logs instead of raising (a database hiccup must not kill a worker's thread)."""
    try:
        sweep_stale_jobs()
    except Exception:
        logger.exception("job_sweep_failed")
    finally:
        # This thread's connection: the next sweep is minutes away.
        connections.close_all()


_worker_sweeper: PeriodicSweeper | None = None


def start_in_worker() -> None:
    """At worker start: sweep once (jobs lost before a restart show up now), then periodically."""
    global _worker_sweeper
    sweep_once_safely()
    logger.info("job_sweeper_started", interval_seconds=settings.JOB_SWEEP_INTERVAL_SECONDS)
    _worker_sweeper = PeriodicSweeper(settings.JOB_SWEEP_INTERVAL_SECONDS)
    _worker_sweeper.start()


def stop_in_worker() -> None:
    if _worker_sweeper is not None:
        _worker_sweeper.stop()
