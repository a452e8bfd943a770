"""Fail jobs whose worker was lost (what every Celery worker also does at start and periodically)."""

from django.core.management.base import BaseCommand

from platform_core.job_sweeper import sweep_stale_jobs


class Command(BaseCommand):
    help = "Mark running or queued jobs whose worker was lost as failed, and their workspaces as errored."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List the jobs that would be failed; change nothing."
        )

    def handle(self, *args, dry_run, **options):
        swept = sweep_stale_jobs(dry_run=dry_run)
        verb = "would fail" if dry_run else "failed"
        for item in swept:
            self.stdout.write(f"{verb} job #{item.job.pk} ({item.job.kind}): {item.reason}")
        self.stdout.write(f"{len(swept)} job(s) {verb}." if swept else "No lost jobs.")
