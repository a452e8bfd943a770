"""Run the whole platform in the foreground: daphne (HTTP + WebSockets) and a Celery worker.

The worker runs as a real separate process on the configured broker (the
embedded filesystem broker by default), exactly as in production. This command
supervises the pair:

- a worker that exits is started again after a delay that doubles with each
  quick exit (WORKER_RESTART_FIRST_DELAY up to WORKER_RESTART_MAX_DELAY) and
  goes back to the first delay once a worker has run WORKER_STABLE_SECONDS.
  Each exit and start is logged (``worker_exited``, ``worker_started``). The
  new worker's job sweeper fails the job the dead one was running, so its
  workspace shows "error" with a retry instead of "provisioning" forever;
- when daphne exits, serve stops the worker and exits with status 1. daphne
  holds every terminal, runner and language-server session in memory, so a
  restarted daphne would not bring them back, and a web server that keeps
  failing is for the service manager around serve (systemd, Docker's restart
  policy) to see and report rather than for serve to hide.

Ctrl+C or SIGTERM stops both; every child is reaped.

The first administrator's password (DJANGO_SUPERUSER_PASSWORD, read by
``ensure_admin`` before this runs) stays in no process environment: serve
starts over without it, and its children never get it (``child_environment``).
"""

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time

import structlog
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from platform_core import daphne_server

logger = structlog.get_logger(__name__)

WORKER_RESTART_FIRST_DELAY = 1.0  # seconds before restarting a worker that exited
WORKER_RESTART_MAX_DELAY = 60.0  # the delay doubles with each quick exit, up to this
WORKER_STABLE_SECONDS = 60.0  # a worker that ran this long resets the delay
SUPERVISE_POLL_SECONDS = 0.2  # how often exits are noticed

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


class SupervisedWorker:
    """The Celery worker process serve keeps alive, restarted with exponential backoff."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.next_delay = WORKER_RESTART_FIRST_DELAY
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=child_environment())  # noqa: S603
        self.started_at = time.monotonic()
        self.restart_at = None
        logger.info("worker_started", pid=self.process.pid, restarts=self.restarts)

    def supervise(self) -> float | None:
        """Notice an exit and schedule the restart (returns its delay), or restart when the delay is over."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start()
            return None
        if self.process is None or self.process.poll() is None:
            return None
        ran_seconds = now - self.started_at
        if ran_seconds >= WORKER_STABLE_SECONDS:
            self.next_delay = WORKER_RESTART_FIRST_DELAY
        delay = self.next_delay
        self.next_delay = min(self.next_delay * 2, WORKER_RESTART_MAX_DELAY)
        self.restart_at = now + delay
        logger.warning(
            "worker_exited",
            pid=self.process.pid,
            returncode=self.process.returncode,
            ran_seconds=round(ran_seconds, 1),
            restart_in_seconds=delay,
        )
        return delay


class Command(BaseCommand):
    help = "Serve the platform (daphne) together with a Celery worker that is restarted if it dies."

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
        check_debug_bind(host, warn=self.stderr.write)
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        worker = None if no_worker else SupervisedWorker(worker_command(worker_concurrency))
        daphne = subprocess.Popen(daphne_server.command("-b", host, "-p", str(port)), env=child_environment())  # noqa: S603
        try:
            if worker is not None:
                worker.start()
            self.stdout.write(f"Devbench is serving at http://{host}:{port}/ (Ctrl+C stops it)")
            while not stopping and daphne.poll() is None:
                if worker is not None:
                    worker.supervise()
                time.sleep(SUPERVISE_POLL_SECONDS)
        finally:
            children = [daphne]
            if worker is not None and worker.process is not None:
                children.insert(0, worker.process)
            stop_all(children)
        if not stopping:
            logger.error("daphne_exited", pid=daphne.pid, returncode=daphne.returncode)
            sys.exit(1)


def check_debug_bind(host: str, *, warn) -> None:
    """Refuse to serve DEBUG to other machines unless ALLOW_DEBUG_ON_NETWORK says so.

    DEBUG answers errors with Django's technical pages (traceback with local variables, settings,
    every URL pattern) and signs sessions with the published development key. Refusing the bind
    is chosen over serving plain error pages to non-loopback clients: Django offers no hook for
    its technical 404 page, and hiding pages would still leave the known key on the network.
    """
    if not settings.DEBUG or is_loopback(host):
        return
    if settings.ALLOW_DEBUG_ON_NETWORK:
        warn(
            f"Warning: DEBUG is on and {host} is reachable from other machines: they see tracebacks, "
            "settings and URL lists, and sessions are signed with the development key."
        )
        return
    raise CommandError(
        f"DEBUG is on, so serving on {host} would show tracebacks, settings and URL lists to other "
        "machines and sign their sessions with the published development key. Serve on 127.0.0.1 "
        "(reach it from elsewhere through an SSH tunnel: ssh -L 8000:127.0.0.1:8000 this-host), run "
        "the production setup (DEBUG=0, docs/deployment.md), or set ALLOW_DEBUG_ON_NETWORK=1 if every "
        "machine that can reach this address is trusted."
    )


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host.strip("[]"), None)}
    except (socket.gaierror, UnicodeError):
        return False
    # A scoped IPv6 address ends in %interface, which ip_address does not take.
    return bool(addresses) and all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses)


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
