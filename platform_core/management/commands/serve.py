"""Run the whole platform in the foreground: daphne (HTTP + WebSockets) and a Celery worker.

The worker runs as a real separate process on the configured broker (the
embedded filesystem broker by default), exactly as in production; this
command only supervises the pair and stops both when either exits.
"""

import ipaddress
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from platform_core import daphne_server


class Command(BaseCommand):
    help = "Serve the platform (daphne) together with a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--worker-concurrency", type=int, default=2)
        parser.add_argument("--no-worker", action="store_true", help="Serve HTTP only (workers run elsewhere).")

    def handle(self, *args, host, port, worker_concurrency, no_worker, **options):
        check_debug_bind(host, warn=self.stderr.write)
        processes: list[subprocess.Popen] = []
        if not no_worker:
            processes.append(subprocess.Popen(worker_command(worker_concurrency)))  # noqa: S603
        processes.append(subprocess.Popen(daphne_server.command("-b", host, "-p", str(port))))  # noqa: S603
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
