from django.conf import settings
from django.db import models


class Job(models.Model):
    """A long-running background task (provisioning, indexing, ...) and its outcome.

    Celery carries the work; this row carries what people need to see: status,
    progress, a short log and the error text. Tasks receive the job id and
    re-fetch the row, so a job survives worker restarts and is visible in admin.
    A running job also records which process runs it and when it last showed
    progress, so the sweeper (platform_core.job_sweeper) can tell a job whose
    worker was lost from one that is merely slow.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True)
    log = models.TextField(blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life: set when the job starts and at every progress report.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker started it; more than one means a worker was lost mid-way.
    attempts = models.PositiveSmallIntegerField(default=0)
    # The process running it: host name, pid and the process's start time in
    # clock ticks after boot, so that a reused pid is not mistaken for it.
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    worker_process_start = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
