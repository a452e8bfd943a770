"""Erase deleted workspaces' files that have been in the trash longer than --days."""

import shutil
import time

from django.core.management.base import BaseCommand, CommandError

from workspaces.runtime import get_runtime


class Command(BaseCommand):
    help = "Erase workspace files that were deleted more than --days ago (default 7)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args, days, **options):
        if days < 0:
            raise CommandError("--days must be zero or more.")
        trash = get_runtime().trash_dir()
        if not trash.is_dir():
            self.stdout.write("The trash is empty.")
            return
        cutoff = time.time() - days * 86400
        erased = 0
        for entry in trash.iterdir():
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            erased += 1
        self.stdout.write(f"Erased {erased} deleted workspace(s) older than {days} day(s).")
