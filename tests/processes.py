"""Real platform processes for tests: a Celery worker and a daphne server on the test database."""

import os
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from platform_core import daphne_server, embedded_broker

ROOT = Path(__file__).resolve().parent.parent


def environment_for_test_database() -> dict[str, str]:
    """The environment that points a child process at the test database."""
    env = os.environ.copy()
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        env["SQLITE_PATH"] = str(database["NAME"])
    else:
        parts = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + database["NAME"]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ChildProcess:
    """A child process whose output is collected line by line, so tests can await a line."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self.log_path.open("w") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, *texts: str, timeout: float = 60) -> str:
        """Wait for a line containing every one of ``texts``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if all(text in line for text in texts):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"{texts!r} not seen in {self.log_path}:\n{''.join(self.lines[-30:])}")
                self._changed.wait(remaining)

    def count_lines(self, text: str) -> int:
        with self._changed:
            return sum(text in line for line in self.lines)

    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)


def start_worker(log_dir: Path, extra_env: dict[str, str] | None = None, name: str = "celery-worker") -> ChildProcess:
    from platform_core.management.commands.serve import worker_command

    # INFO: tests read the worker's log lines ("ready", task events).
    env = environment_for_test_database() | {"LOG_LEVEL": "INFO"} | (extra_env or {})
    worker = ChildProcess(
        worker_command(concurrency=1) + ["--loglevel", "INFO", "--hostname", f"test-{os.getpid()}@%h"],
        env,
        log_dir / f"{name}.log",
    )
    worker.wait_for_line("ready", timeout=60)
    return worker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(log_dir: Path) -> tuple[ChildProcess, str]:
    port = free_port()
    server = ChildProcess(
        daphne_server.command("-b", "127.0.0.1", "-p", str(port)),
        environment_for_test_database(),
        log_dir / "daphne.log",
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return server, base_url
        except OSError:
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("daphne did not start:\n" + server.output()) from None
        time.sleep(0.1)  # polling the port: the server offers no readiness event


def purge_broker() -> None:
    """Drop messages left by an earlier run so the worker starts on an empty queue."""
    if not embedded_broker.in_use():
        from platform_core.celery import app

        with app.connection_for_write() as broker:
            for queue in settings.CELERY_WORKER_QUEUES:
                broker.default_channel.queue_purge(queue)
        return
    for key in ("data_folder_in", "control_folder"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key])
        for message in folder.glob("*"):
            if message.is_file():
                message.unlink()
