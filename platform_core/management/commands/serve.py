"""Run the whole platform in the foreground: daphne (HTTP + WebSockets) and a Celery worker.

The worker runs as a real separate process on the configured broker (the
embedded filesystem broker by default), exactly as in production; this
command only supervises the pair and stops both when either exits.

The first administrator's password (DJANGO_SUPERUSER_PASSWORD, read by
``ensure_admin`` before this runs) stays in no process environment: serve
starts over without it, and its children never get it (``child_environment``).
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

# Variables only `ensure_admin` needs, before serve: secrets no process started here may hold.
DROPPED_VARIABLES = (
    "DJANGO_SUPERUSER_PASSWORD",
    "DJANGO_SUPERUSER_PASSWORD_FILE",
    "DJANGO_SUPERUSER_USERNAME",
    "DJANGO_SUPERUSER_EMAIL",
)


def child_environment(source: dict[str, str] | None = None) -> dict[str, str]:
    """The platform's environment without what its processes must not carry."""
    source = os.environ if source is None else source
    return {name: value for name, value in source.items() if name not in DROPPED_VARIABLES}


class Command(BaseCommand):
    help = "Serve the platform (daphne) together with a Celery worker."

    def run_from_argv(self, argv):
        # /proc/<pid>/environ shows the environment a process was started
        # with; removing a variable from os.environ does not change it, so a
        # serve started from the command line with the password starts over
        # (same pid, same arguments) without it.
        if any(name in os.environ for name in DROPPED_VARIABLES):
            sys.stdout.flush()
            sys.stderr.flush()
            os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], child_environment())  # noqa: S606
        return super().run_from_argv(argv)

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--worker-concurrency", type=int, default=2)
        parser.add_argument("--no-worker", action="store_true", help="Serve HTTP only (workers run elsewhere).")

    def handle(self, *args, host, port, worker_concurrency, no_worker, **options):
        processes: list[subprocess.Popen] = []
        if not no_worker:
            processes.append(subprocess.Popen(worker_command(worker_concurrency), env=child_environment()))  # noqa: S603
        processes.append(
            subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "platform_core.asgi:application"],
                env=child_environment(),
            )
        )
        self.stdout.write(f"Devbench is serving at http://{host}:{port}/ (Ctrl+C stops it)")

        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        try:
            while not stopping and all(process.poll() is None for process in processes):
                time.sleep(0.5)
        finally:
            stop_all(processes)
        failed = [process for process in processes if process.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            sys.exit(1)


def worker_command(concurrency: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "platform_core",
        "worker",
        "-Q",
        ",".join(settings.CELERY_WORKER_QUEUES),
        "--concurrency",
        str(concurrency),
        # Gossip, mingle and heartbeats need a broadcast-capable broker; the
        # embedded one is not, and one worker has nobody to gossip with.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        settings.LOG_LEVEL,
    ]


def stop_all(processes: list[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: every child is reaped."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
