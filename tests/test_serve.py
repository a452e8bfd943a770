"""`manage.py serve` keeps its Celery worker alive and reaps every child when it stops."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from platform_core.management.commands import serve as serve_command
from tests import processes
from tests.conftest import make_user, wait_until
from workspaces import services
from workspaces.models import Workspace


def descendants(pid: int) -> set[int]:
    """Pids of every live process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = set(), [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def exists(pid: int) -> bool:
    """True while the kernel still holds the process, running or waiting to be reaped."""
    return Path(f"/proc/{pid}").exists()


def log_events(serve: processes.ChildProcess, event: str) -> list[dict]:
    events = []
    for line in serve.output().splitlines():
        if f'"{event}"' in line and line.startswith("{"):
            events.append(json.loads(line))
    return events


@pytest.fixture
def serve(process_logs):
    processes.purge_broker()
    port = processes.free_port()
    serve = processes.ChildProcess(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--worker-concurrency", "1"],
        processes.environment_for_test_database() | {"LOG_LEVEL": "INFO"},
        process_logs / "serve.log",
    )
    serve.base_url = f"http://127.0.0.1:{port}"
    yield serve
    if serve.process.poll() is None:
        serve.process.send_signal(signal.SIGTERM)
        try:
            serve.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.process.kill()
    serve.stop()
    processes.purge_broker()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_restarts_a_killed_worker_keeps_serving_and_reaps_everything_on_stop(serve):
    serve.wait_for_line('"worker_started"', timeout=60)
    serve.wait_for_line(" ready.", timeout=90)
    first_worker = log_events(serve, "worker_started")[0]["pid"]

    os.kill(first_worker, signal.SIGKILL)

    exited = json.loads(serve.wait_for_line('"worker_exited"', timeout=30))
    assert exited["pid"] == first_worker
    assert exited["returncode"] == -signal.SIGKILL
    assert exited["restart_in_seconds"] == 1.0
    wait_until(lambda: len(log_events(serve, "worker_started")) == 2, timeout=30, message="a new worker")
    second_worker = log_events(serve, "worker_started")[1]["pid"]
    assert second_worker != first_worker
    assert not exists(first_worker)  # serve reaped it
    wait_until(lambda: serve.count_lines(" ready.") == 2, timeout=90, message="the new worker to be ready")

    # The new worker does the work, and daphne served all along.
    workspace = services.do_create_workspace("After the restart", acting_user=make_user("olivia"))
    wait_until(
        lambda: Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.READY,
        timeout=120,
        message="provisioning by the restarted worker",
    )
    with urllib.request.urlopen(serve.base_url + "/healthz", timeout=10) as response:  # noqa: S310 - loopback
        assert response.status == 200
    children = descendants(serve.process.pid)
    assert second_worker in children
    assert len(children) >= 3  # daphne, the worker and its pool process

    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(timeout=60) == 0

    assert [pid for pid in children if exists(pid)] == []


def test_it_backs_off_exponentially_up_to_a_cap_and_resets_after_a_stable_run(tmp_path, monkeypatch):
    monkeypatch.setattr(serve_command, "WORKER_RESTART_FIRST_DELAY", 0.05)
    monkeypatch.setattr(serve_command, "WORKER_RESTART_MAX_DELAY", 0.2)
    monkeypatch.setattr(serve_command, "WORKER_STABLE_SECONDS", 1.0)
    # A "worker" that exits at once, except its fifth run, which lasts past the stable time.
    script = (
        f'n=$(cat "{tmp_path}/runs" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "{tmp_path}/runs"; '
        '[ "$n" -eq 5 ] && sleep 1.5; exit 3'
    )
    worker = serve_command.SupervisedWorker(["sh", "-c", script])
    worker.start()
    delays = []
    try:
        while len(delays) < 7:
            delay = worker.supervise()
            if delay is not None:
                delays.append(delay)
            time.sleep(0.01)
    finally:
        serve_command.stop_all([worker.process])

    assert delays == [0.05, 0.1, 0.2, 0.2, 0.05, 0.1, 0.2]
    assert worker.restarts == 6
