import pytest

from platform_core.models import AuditLog, Job
from workspaces.models import Membership, Workspace

pytestmark = pytest.mark.django_db


def test_it_creates_a_workspace_owned_by_its_creator_and_queues_provisioning(api, personas):
    response = api.as_user(personas.editor).post("/api/v1/workspaces/", {"name": "Scratch"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Scratch"
    assert body["status"] == "pending"
    assert body["my_role"] == "owner"
    workspace = Workspace.objects.get(pk=body["id"])
    assert Membership.objects.get(workspace=workspace).user == personas.editor
    assert Job.objects.filter(kind="workspace.provision", target_id=str(workspace.pk)).exists()


def test_it_lists_only_workspaces_the_user_belongs_to(api, personas):
    mine = api.as_user(personas.viewer).get("/api/v1/workspaces/").json()
    theirs = api.as_user(personas.outsider).get("/api/v1/workspaces/").json()

    assert [row["name"] for row in mine["results"]] == ["Team project"]
    assert mine["results"][0]["my_role"] == "viewer"
    assert theirs["count"] == 0


def test_it_hides_other_workspaces_with_404(api, personas):
    response = api.as_user(personas.outsider).get(f"/api/v1/workspaces/{personas.workspace.pk}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_renames_for_owners_only(api, personas):
    url = f"/api/v1/workspaces/{personas.workspace.pk}/"

    refused = api.as_user(personas.editor).patch(url, {"name": "Nope"}, format="json")
    renamed = api.as_user(personas.owner).patch(url, {"name": "Renamed"}, format="json")

    assert refused.status_code == 403
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Renamed"


def test_it_retries_the_provisioning_of_a_workspace_in_error_for_owners(api, personas):
    Job.objects.filter(target_id=str(personas.workspace.pk)).update(status=Job.Status.FAILED)
    Workspace.objects.filter(pk=personas.workspace.pk).update(
        status=Workspace.Status.ERROR, status_message="Provisioning did not finish."
    )
    url = f"/api/v1/workspaces/{personas.workspace.pk}/reprovision/"

    refused = api.as_user(personas.editor).post(url)
    retried = api.as_user(personas.owner).post(url)

    assert refused.status_code == 403
    assert retried.status_code == 202
    assert retried.json()["status"] == "pending"
    assert retried.json()["status_message"] == ""
    jobs = Job.objects.filter(kind="workspace.provision", target_id=str(personas.workspace.pk)).order_by("id")
    assert [job.status for job in jobs] == [Job.Status.FAILED, Job.Status.QUEUED]
    audit = AuditLog.objects.get(action="workspace.reprovision")
    assert audit.actor == personas.owner
    assert audit.changes == {"status": ["error", "pending"]}
    job = api.as_user(personas.owner).get(f"/api/v1/jobs/{jobs.last().pk}/").json()
    assert job["attempts"] == 0
    assert job["heartbeat_at"] is None


def test_it_refuses_a_second_provisioning_while_one_is_queued_or_running(api, personas):
    url = f"/api/v1/workspaces/{personas.workspace.pk}/reprovision/"
    queued = Job.objects.get(kind="workspace.provision", target_id=str(personas.workspace.pk))
    assert queued.status == Job.Status.QUEUED  # the creation's own provisioning, not yet picked up

    refused = api.as_user(personas.owner).post(url)
    Job.objects.filter(pk=queued.pk).update(status=Job.Status.RUNNING)
    refused_running = api.as_user(personas.owner).post(url)
    Job.objects.filter(pk=queued.pk).update(status=Job.Status.SUCCEEDED)
    accepted = api.as_user(personas.owner).post(url)

    assert refused.status_code == refused_running.status_code == 409
    assert refused.json()["error"]["code"] == "provisioning_in_progress"
    assert accepted.status_code == 202
    assert AuditLog.objects.filter(action="workspace.reprovision").count() == 1


def test_it_requires_the_exact_name_to_delete(api, personas):
    url = f"/api/v1/workspaces/{personas.workspace.pk}/"
    client = api.as_user(personas.owner)

    without = client.delete(url)
    wrong = client.delete(url + "?confirm=team project")
    deleted = client.delete(url + "?confirm=Team project")

    assert without.status_code == 400
    assert without.json()["error"]["code"] == "confirmation_required"
    assert wrong.status_code == 400
    assert deleted.status_code == 204
    assert not Workspace.objects.filter(pk=personas.workspace.pk).exists()
    assert AuditLog.objects.filter(action="workspace.delete").count() == 1


def test_it_rejects_unknown_fields_and_bad_types(api, personas):
    client = api.as_user(personas.owner)

    unknown = client.post("/api/v1/workspaces/", {"name": "x", "colour": "red"}, format="json")
    wrong_type = client.post("/api/v1/workspaces/", {"name": ["x"]}, format="json")
    malformed = client.post("/api/v1/workspaces/", "{not json", content_type="application/json")

    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"] == {"colour": ["Unknown field."]}
    assert wrong_type.status_code == 400
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_request"
    assert Workspace.objects.count() == 1


@pytest.mark.parametrize("name", ["tab\there", "bell\x07", "escape\x1b[2J", "delete\x7f", "c1\x85next", "csi\x9b2J"])
def test_it_refuses_control_characters_in_workspace_names(api, personas, name):
    client = api.as_user(personas.owner)

    created = client.post("/api/v1/workspaces/", {"name": name}, format="json")
    renamed = client.patch(f"/api/v1/workspaces/{personas.workspace.pk}/", {"name": name}, format="json")

    for response in (created, renamed):
        assert response.status_code == 400, response.content
        assert response.json()["error"]["details"] == {"name": ["The name must not contain control characters."]}
    assert list(Workspace.objects.values_list("name", flat=True)) == ["Team project"]


def test_it_answers_413_for_huge_bodies(api, personas, settings):
    huge = '{"name": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + '"}'

    response = api.as_user(personas.owner).post("/api/v1/workspaces/", huge, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_it_keeps_a_deleted_workspaces_files_in_the_trash_until_purged(api, personas):
    import os

    from django.core.management import call_command

    from tests.conftest import make_ready
    from workspaces.runtime import get_runtime
    from workspaces.tasks import discard_workspace_files

    root = make_ready(personas.workspace)
    (root / "work.py").write_text("precious = True\n")
    api.as_user(personas.owner).delete(f"/api/v1/workspaces/{personas.workspace.pk}/?confirm=Team%20project")

    discard_workspace_files(personas.workspace.pk)  # the task body, as the worker runs it

    trash = get_runtime().trash_dir()
    kept = [entry for entry in trash.iterdir() if entry.name.startswith(root.name + "-")]
    assert not root.exists()
    assert len(kept) == 1
    assert (kept[0] / "work.py").read_text() == "precious = True\n"
    call_command("purge_workspace_trash", "--days", "1")
    assert kept[0].exists()
    old = kept[0].stat().st_mtime - 2 * 86400
    os.utime(kept[0], (old, old))
    call_command("purge_workspace_trash", "--days", "1")
    assert not kept[0].exists()
