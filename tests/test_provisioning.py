"""Provisioning through the real Celery worker process (not eager mode)."""

import json
import shutil

import pytest

from platform_core.models import Job
from tests.conftest import wait_until
from workspaces.models import Workspace
from workspaces.runtime import get_runtime

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def settled(workspace_id):
    workspace = Workspace.objects.get(pk=workspace_id)
    return workspace if workspace.status in (Workspace.Status.READY, Workspace.Status.ERROR) else None


def test_it_provisions_a_directory_with_its_own_venv(api, personas, celery_worker):
    response = api.as_user(personas.owner).post("/api/v1/workspaces/", {"name": "Provisioned"}, format="json")
    workspace_id = response.json()["id"]

    workspace = wait_until(lambda: settled(workspace_id), timeout=120, message="provisioning to settle")

    assert workspace.status == Workspace.Status.READY, workspace.status_message
    assert workspace.progress == 100
    root = get_runtime().root(workspace_id)
    assert (root / ".venv" / "bin" / "python").exists()
    assert (root / ".venv" / "pyvenv.cfg").exists()
    job = Job.objects.get(kind="workspace.provision", target_id=str(workspace_id))
    assert job.status == Job.Status.SUCCEEDED
    assert job.started_at and job.finished_at
    assert "virtual environment" in job.log


def test_it_carries_the_request_id_into_the_task_logs(api, personas, celery_worker):
    response = api.as_user(personas.owner).post("/api/v1/workspaces/", {"name": "Traced"}, format="json")
    request_id = response["X-Request-ID"]
    wait_until(lambda: settled(response.json()["id"]), timeout=120, message="provisioning to settle")

    line = json.loads(celery_worker.wait_for_line('"job_succeeded"', request_id, timeout=120))
    task_lines = [json.loads(text) for text in celery_worker.output().splitlines() if line["task_id"] in text]

    assert Job.objects.get(target_id=str(response.json()["id"])).request_id == request_id
    assert line["request_id"] == request_id
    # Every line the task logged carries the request's id, not just the last one.
    assert len(task_lines) >= 3
    assert all(entry["request_id"] == request_id for entry in task_lines if entry.get("task_id") == line["task_id"])


def test_it_shows_a_provisioning_failure_in_the_status(api, personas, celery_worker):
    client = api.as_user(personas.owner)
    workspace_id = client.post("/api/v1/workspaces/", {"name": "Broken"}, format="json").json()["id"]
    wait_until(lambda: settled(workspace_id), timeout=120, message="first provisioning")
    root = get_runtime().root(workspace_id)
    shutil.rmtree(root)
    root.write_text("a file where the workspace directory should be")

    client.post(f"/api/v1/workspaces/{workspace_id}/reprovision/")
    workspace = wait_until(lambda: settled(workspace_id), timeout=120, message="re-provisioning to settle")

    assert workspace.status == Workspace.Status.ERROR
    assert "not a directory" in workspace.status_message
    shown = client.get(f"/api/v1/workspaces/{workspace_id}/").json()
    assert shown["status"] == "error"
    assert "not a directory" in shown["status_message"]
    failed_job = Job.objects.filter(target_id=str(workspace_id)).order_by("-id").first()
    assert failed_job.status == Job.Status.FAILED
