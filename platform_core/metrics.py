"""Prometheus metrics read from the database at scrape time.

Workspaces by status and job counts/durations are computed from rows rather
than counted in memory, so they are right whatever process (web or Celery
worker) did the work, and survive restarts.
"""

from django.db.models import Count
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

_registered = False


class DatabaseCollector:
    def describe(self):
        # Declared up front so registering does not query the database
        # (prometheus_client would otherwise call collect() at start-up).
        yield GaugeMetricFamily("devbench_workspaces", "Workspaces by status.", labels=["status"])
        yield CounterMetricFamily("devbench_jobs", "Background jobs by kind and status.", labels=["kind", "status"])
        yield CounterMetricFamily(
            "devbench_job_duration_seconds", "Total run time of finished jobs.", labels=["kind", "status"]
        )

    def collect(self):
        from django.db import DatabaseError

        from platform_core.models import Job
        from workspaces.models import Workspace

        workspaces = GaugeMetricFamily("devbench_workspaces", "Workspaces by status.", labels=["status"])
        jobs = CounterMetricFamily("devbench_jobs", "Background jobs by kind and status.", labels=["kind", "status"])
        durations = CounterMetricFamily(
            "devbench_job_duration_seconds", "Total run time of finished jobs.", labels=["kind", "status"]
        )
        try:
            counts = dict(Workspace.objects.values_list("status").annotate(n=Count("id")))
            for value in Workspace.Status.values:
                workspaces.add_metric([value], counts.get(value, 0))
            for row in Job.objects.values("kind", "status").annotate(n=Count("id")):
                jobs.add_metric([row["kind"], row["status"]], row["n"])
            totals: dict[tuple[str, str], float] = {}
            finished = Job.objects.filter(started_at__isnull=False, finished_at__isnull=False).values_list(
                "kind", "status", "started_at", "finished_at"
            )
            for kind, status, started_at, finished_at in finished.iterator():
                key = (kind, status)
                totals[key] = totals.get(key, 0.0) + (finished_at - started_at).total_seconds()
            for (kind, status), seconds in totals.items():
                durations.add_metric([kind, status], seconds)
        except DatabaseError:
            return  # database not migrated or unreachable: export nothing rather than fail the scrape
        yield workspaces
        yield jobs
        yield durations


def register() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(DatabaseCollector())
        _registered = True
