"""Provisioning survives lost workers: real worker processes killed with SIGKILL mid-way.

Creating a venv takes well under a second here, too fast to kill a worker in
the middle of it. So the first worker gets ``WORKSPACE_PYTHON`` (the
interpreter new venvs are based on) pointing at a slow interpreter: a script
that holds its first start until the test releases it, then runs the real
Python. Provisioning itself runs unchanged; only the interpreter is slow.
"""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from platform_core.jobs import create_job
from platform_core.models import Job
from tests import processes
from tests.conftest import make_user, wait_until
from workspaces import services
from workspaces.models import Workspace
from workspaces.runtime import get_runtime

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class SlowPython:
    """An interpreter whose first start waits until ``release()``; later starts run at once."""

    def __init__(self, folder: Path):
        self.path = folder / "slow-python"
        self.started = folder / "slow-python-started"
        self.released = folder / "slow-python-released"
        self.path.write_text(
            "#!/bin/sh\n"
            f'if mkdir "{self.started}" 2>/dev/null; then\n'
            f'  while [ ! -e "{self.released}" ]; do sleep 0.05; done\n'
            "fi\n"
            f'exec "{sys.executable}" "$@"\n'
        )
        self.path.chmod(0o755)

    def environment(self) -> dict[str, str]:
        """For a worker: new venvs use this interpreter, and virtualenv waits for it to answer
        (it gives up on an interpreter that does not answer within 15 s by default).

        Unsandboxed: the script and its marker files live in the test's temporary
        folder, which a sandboxed workspace process cannot see (let alone write to).
        What is tested here is the worker's loss, not the sandbox."""
        return {"WORKSPACE_PYTHON": str(self.path), "PY_DISCOVERY_TIMEOUT": "600", "WORKSPACE_SANDBOX": "off"}

    def release(self) -> None:
        self.released.touch()


@pytest.fixture
def slow_python(tmp_path):
    python = SlowPython(tmp_path)
    yield python
    python.release()  # lets a waiting copy left behind by a killed worker finish


@pytest.fixture
def workers(process_logs):
    """Start workers on demand; all are stopped (and reaped) at the end."""
    started = []

    def start(name: str, **env: str):
        worker = processes.start_worker(process_logs, extra_env=env, name=name)
        started.append(worker)
        return worker

    processes.purge_broker()
    yield start
    for worker in started:
        worker.stop()
    processes.purge_broker()


def provisioning_job(workspace_id: int) -> Job:
    return Job.objects.filter(kind="workspace.provision", target_id=str(workspace_id)).order_by("-id").first()


def wait_for_the_venv_step(workspace_id: int, slow_python: SlowPython) -> Job:
    """Until the job reports the venv step and the slow interpreter is holding it there."""
    return wait_until(
        lambda: (
            (job := provisioning_job(workspace_id)).status == Job.Status.RUNNING
            and "virtual environment" in job.message
            and slow_python.started.exists()
            and job
        ),
        timeout=120,
        message="provisioning to reach the venv step",
    )


def settled(workspace_id: int) -> Workspace | None:
    workspace = Workspace.objects.get(pk=workspace_id)
    return workspace if workspace.status in (Workspace.Status.READY, Workspace.Status.ERROR) else None


def children_of(pid: int) -> list[int]:
    """Live child processes of ``pid`` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != b"Z":
            children.append(int(stat.parent.name))
    return children


def assert_the_venv_works(workspace_id: int) -> None:
    python = get_runtime().root(workspace_id) / ".venv" / "bin" / "python"
    completed = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr


def test_it_runs_provisioning_again_when_the_process_running_it_is_killed(workers, slow_python):
    owner = make_user("olivia")
    worker = workers("worker-slow-python", **slow_python.environment())
    workspace = services.do_create_workspace("Killed child", acting_user=owner)
    job = wait_for_the_venv_step(workspace.pk, slow_python)
    # The task runs in the worker's one pool process; the worker itself lives on.
    [pool_process] = children_of(worker.process.pid)

    os.kill(pool_process, signal.SIGKILL)

    settled_workspace = wait_until(lambda: settled(workspace.pk), timeout=120, message="provisioning to settle")
    assert settled_workspace.status == Workspace.Status.READY, settled_workspace.status_message
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.attempts == 2
    assert job.worker_pid not in (None, pool_process)  # the second run had a new pool process
    assert "attempt 2: the previous worker was lost" in job.log
    assert_the_venv_works(workspace.pk)
    assert worker.process.poll() is None


def test_it_fails_the_job_of_a_killed_worker_at_the_next_start_and_the_retry_succeeds(workers, slow_python, api):
    owner = make_user("olivia")
    first = workers("worker-killed", **slow_python.environment())
    workspace = services.do_create_workspace("Killed worker", acting_user=owner)
    wait_for_the_venv_step(workspace.pk, slow_python)

    first.process.kill()  # SIGKILL to the worker's main process: its pool dies with it
    first.stop()
    # Nothing noticed yet: this is where the workspace used to stay forever.
    assert provisioning_job(workspace.pk).status == Job.Status.RUNNING
    assert Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.PROVISIONING

    workers("worker-after-restart")
    lost = wait_until(
        lambda: (job := provisioning_job(workspace.pk)).status == Job.Status.FAILED and job,
        timeout=30,
        message="the restarted worker's sweep to fail the job",
    )
    assert "killed or crashed" in lost.message
    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.ERROR
    assert "Provisioning did not finish" in workspace.status_message
    assert "Retry" in workspace.status_message

    response = api.as_user(owner).post(f"/api/v1/workspaces/{workspace.pk}/reprovision/")
    assert response.status_code == 202

    retried = wait_until(lambda: settled(workspace.pk), timeout=120, message="the retry to settle")
    assert retried.status == Workspace.Status.READY, retried.status_message
    assert provisioning_job(workspace.pk).status == Job.Status.SUCCEEDED
    assert_the_venv_works(workspace.pk)


def test_it_sweeps_periodically_while_the_worker_runs(workers):
    worker = workers("worker-sweeping", JOB_SWEEP_INTERVAL_SECONDS="1")
    # Made after the worker's start-up sweep: a job that a worker on another
    # machine claimed a day ago and never spoke of again.
    workspace = Workspace.objects.create(name="Lost elsewhere", status=Workspace.Status.PROVISIONING)
    job = create_job("workspace.provision", target=workspace)
    day_ago = timezone.now() - timedelta(days=1)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        attempts=1,
        started_at=day_ago,
        heartbeat_at=day_ago,
        worker_host="another-machine",
        worker_pid=4242,
    )

    wait_until(lambda: Job.objects.get(pk=job.pk).status == Job.Status.FAILED, timeout=30, message="the periodic sweep")

    assert "No sign of life" in Job.objects.get(pk=job.pk).message
    assert Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.ERROR
    worker.wait_for_line('"jobs_swept"', timeout=10)


def test_it_stops_provisioning_at_its_time_limit(workers, slow_python):
    make_user("olivia")
    limit = {"PROVISION_TIME_LIMIT_SECONDS": "10"}
    workers("worker-short-limit", **slow_python.environment(), **limit)
    # Celery puts the limits into each task's message when it is queued, so the
    # web side needs the setting too: queue from a process that has it.
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CREATE_WORKSPACE_AS_OLIVIA.format(name="Too slow")],
        cwd=processes.ROOT,
        env=processes.environment_for_test_database() | limit,
        check=True,
    )
    workspace = Workspace.objects.get(name="Too slow")
    wait_for_the_venv_step(workspace.pk, slow_python)

    stopped = wait_until(lambda: settled(workspace.pk), timeout=60, message="the time limit to stop provisioning")

    assert stopped.status == Workspace.Status.ERROR
    assert stopped.status_message == "Stopped after 10 s: longer than the time limit for this kind of job."
    job = provisioning_job(workspace.pk)
    assert job.status == Job.Status.FAILED
    assert job.message == stopped.status_message


CREATE_WORKSPACE_AS_OLIVIA = (
    "from platform_core.models import User; from workspaces import services; "
    "services.do_create_workspace({name!r}, acting_user=User.objects.get(username='olivia'))"
)
