"""The job sweeper through `manage.py sweep_jobs`, and jobs that must not run (again)."""

import io
import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from platform_core import process_identity
from platform_core.jobs import create_job
from platform_core.models import Job
from workspaces import services
from workspaces.models import Workspace
from workspaces.tasks import provision_workspace

pytestmark = pytest.mark.django_db


def provisioning(name: str, owner, *, status=Job.Status.RUNNING, age=timedelta(0), silent=timedelta(0), **worker):
    """A workspace being provisioned by a job that started ``age`` ago and last reported ``silent`` ago."""
    workspace = Workspace.objects.create(name=name, status=Workspace.Status.PROVISIONING, created_by=owner)
    job = create_job("workspace.provision", target=workspace, created_by=owner)
    now = timezone.now()
    fields = {"status": status, "created_at": now - age}
    if status == Job.Status.RUNNING:
        fields |= {"attempts": 1, "started_at": now - age, "heartbeat_at": now - silent}
        fields |= {"worker_host": "another-machine", "worker_pid": 4242} | worker
    else:
        Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.PENDING)
    Job.objects.filter(pk=job.pk).update(**fields)
    return workspace, job


def exited_process() -> process_identity.ProcessIdentity:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    identity = process_identity.identity_of(child.pid)
    child.stdin.close()
    child.wait()
    return identity


def sweep(*args: str) -> str:
    out = io.StringIO()
    call_command("sweep_jobs", *args, stdout=out)
    return out.getvalue()


def on_this_host(identity: process_identity.ProcessIdentity) -> dict:
    return {"worker_host": identity.host, "worker_pid": identity.pid, "worker_process_start": identity.start}


def test_it_fails_a_job_whose_worker_process_is_gone_and_errors_its_workspace(personas):
    workspace, job = provisioning("Lost", personas.owner, **on_this_host(exited_process()))

    output = sweep()

    job.refresh_from_db()
    workspace.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.finished_at is not None
    assert "stopped before the job finished: it was killed or crashed" in job.message
    assert f"failed job #{job.pk} (workspace.provision)" in output
    assert workspace.status == Workspace.Status.ERROR
    assert workspace.status_message.startswith("Provisioning did not finish. The worker process running this job")
    assert workspace.status_message.endswith("Retry to run it again.")


def test_it_tells_a_reused_pid_from_the_process_that_ran_the_job(personas):
    me = process_identity.current_process()
    # Our own pid, but a process started at another time: the job's worker is gone.
    _, reused = provisioning("Reused pid", personas.owner, **on_this_host(me) | {"worker_process_start": me.start - 1})
    _, alive = provisioning("Alive", personas.owner, **on_this_host(me))

    sweep()

    assert Job.objects.get(pk=reused.pk).status == Job.Status.FAILED
    assert Job.objects.get(pk=alive.pk).status == Job.Status.RUNNING


def test_it_fails_a_job_silent_for_longer_than_its_time_limit_on_another_host(personas, settings):
    hard_limit = settings.JOB_TIME_LIMITS["workspace.provision"] + settings.JOB_HARD_TIME_LIMIT_GRACE_SECONDS
    stale_after = timedelta(seconds=hard_limit + settings.JOB_STALE_MARGIN_SECONDS)
    workspace, silent = provisioning("Silent", personas.owner, age=timedelta(hours=2), silent=stale_after * 1.1)
    _, slow = provisioning("Slow but alive", personas.owner, age=timedelta(hours=2), silent=stale_after * 0.9)

    sweep()

    silent.refresh_from_db()
    assert silent.status == Job.Status.FAILED
    assert "No sign of life from this job for 13 min, longer than its time limit of 630 s" in silent.message
    assert Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.ERROR
    # Staleness counts from the last progress report, not from the start.
    assert Job.objects.get(pk=slow.pk).status == Job.Status.RUNNING


def test_it_fails_a_job_that_no_worker_started_in_time(personas, settings):
    timeout = timedelta(seconds=settings.JOB_QUEUED_TIMEOUT_SECONDS)
    workspace, never = provisioning("Never started", personas.owner, status=Job.Status.QUEUED, age=timeout * 1.5)
    _, waiting = provisioning("Waiting", personas.owner, status=Job.Status.QUEUED, age=timeout / 2)

    sweep()

    never.refresh_from_db()
    assert never.status == Job.Status.FAILED
    assert "No worker started this job within 90 min" in never.message
    assert Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.ERROR
    assert Job.objects.get(pk=waiting.pk).status == Job.Status.QUEUED


def test_it_leaves_the_workspace_to_a_newer_provisioning(personas):
    workspace, lost = provisioning("Retried", personas.owner, **on_this_host(exited_process()))
    # A newer provisioning was queued meanwhile (by a worker that re-queued it, or an administrator).
    Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.PENDING)
    create_job(services.PROVISION_JOB_KIND, target=workspace, created_by=personas.owner)

    sweep()

    assert Job.objects.get(pk=lost.pk).status == Job.Status.FAILED
    assert Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.PENDING


def test_it_only_lists_lost_jobs_in_a_dry_run(personas):
    workspace, job = provisioning("Dry", personas.owner, **on_this_host(exited_process()))

    output = sweep("--dry-run")

    assert f"would fail job #{job.pk}" in output
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
    assert Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.PROVISIONING
    assert sweep("--dry-run").endswith("1 job(s) would fail.\n")  # still there to be swept


def test_it_reports_when_nothing_is_lost(personas):
    assert sweep() == "No lost jobs.\n"


def test_it_gives_up_on_a_job_whose_worker_was_lost_too_often(personas, settings):
    workspace, job = provisioning("Crashes its worker", personas.owner, **on_this_host(exited_process()))
    Job.objects.filter(pk=job.pk).update(attempts=settings.JOB_MAX_ATTEMPTS)

    # The message is delivered once more, as after the last lost worker.
    provision_workspace(workspace.pk, job.pk)

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.attempts == settings.JOB_MAX_ATTEMPTS
    assert f"lost {settings.JOB_MAX_ATTEMPTS} times" in job.message
    workspace.refresh_from_db()
    assert workspace.status == Workspace.Status.ERROR
    assert not (settings.WORKSPACES_ROOT / f"ws-{workspace.pk}").exists()


def test_it_does_not_run_a_finished_job_again(personas, settings):
    workspace, job = provisioning("Done", personas.owner, **on_this_host(process_identity.current_process()))
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, message="The sweeper gave up on it.")

    # Redis delivers an unacknowledged message again after its visibility timeout.
    provision_workspace(workspace.pk, job.pk)

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.attempts == 1
    assert Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.PROVISIONING
    assert not (settings.WORKSPACES_ROOT / f"ws-{workspace.pk}").exists()


def test_it_names_processes_by_host_pid_and_start_time():
    me = process_identity.current_process()

    assert me.host == socket.gethostname()
    assert me.pid == os.getpid()
    assert process_identity.is_gone(me) is False
    assert process_identity.is_gone(exited_process()) is True
    assert process_identity.is_gone(process_identity.ProcessIdentity("another-machine", 1, 1)) is None
