"""Each privileged action writes exactly one audit row, with the right fields and no secret."""

import json

import pytest
from django.test import Client

from platform_core.models import AuditLog, Job
from tests.conftest import PASSWORD, make_ready
from workspaces.models import Membership

pytestmark = pytest.mark.django_db


def only_new_row(before_id: int) -> AuditLog:
    rows = list(AuditLog.objects.filter(id__gt=before_id))
    assert len(rows) == 1, [row.action for row in rows]
    return rows[0]


def last_id() -> int:
    return AuditLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def signed_in(user) -> Client:
    client = Client(HTTP_USER_AGENT="pytest-browser/1.0")
    client.force_login(user)
    return client


def test_it_records_login_logout_and_failed_login(personas):
    client = Client(HTTP_USER_AGENT="pytest-browser/1.0")

    before = last_id()
    client.post("/accounts/login/", {"username": "olivia", "password": "wrong-password"})
    failed = only_new_row(before)

    before = last_id()
    response = client.post("/accounts/login/", {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 302
    login = only_new_row(before)

    before = last_id()
    client.post("/accounts/logout/")
    logout = only_new_row(before)

    assert (failed.action, failed.actor_id, failed.actor_username) == ("auth.login_failed", None, "olivia")
    assert (login.action, login.actor_id) == ("auth.login", personas.owner.pk)
    assert (logout.action, logout.actor_id) == ("auth.logout", personas.owner.pk)
    for row in (failed, login, logout):
        assert row.ip_address == "127.0.0.1"
        assert row.user_agent == "pytest-browser/1.0"
        assert row.request_id
    assert "wrong-password" not in json.dumps([failed.changes, failed.metadata])


def test_it_locks_out_after_repeated_failures_and_records_each(personas, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "olivia", "password": "nope"})

    locked = client.post("/accounts/login/", {"username": "olivia", "password": PASSWORD})

    assert locked.status_code == 429
    assert b"locked" in locked.content.lower()
    assert AuditLog.objects.filter(action="auth.login").count() == 0
    assert AuditLog.objects.filter(action="auth.login_failed").count() >= settings.AXES_FAILURE_LIMIT


def test_it_records_a_password_change_without_the_password(personas):
    client = signed_in(personas.editor)
    before = last_id()

    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-passphrase-9",
            "new_password2": "a-new-long-passphrase-9",
        },
    )

    assert response.status_code == 302
    row = only_new_row(before)
    assert row.action == "auth.password_change"
    assert "a-new-long-passphrase-9" not in json.dumps([row.changes, row.metadata, row.target_label])


def test_it_records_token_creation_and_revocation_without_the_token(api, personas):
    client = api.as_user(personas.editor)

    before = last_id()
    created = client.post("/api/v1/tokens/", {"name": "deploy"}, format="json").json()
    create_row = only_new_row(before)
    before = last_id()
    client.delete(f"/api/v1/tokens/{created['id']}/")
    revoke_row = only_new_row(before)

    assert (create_row.action, create_row.target_type, create_row.target_id) == (
        "token.create",
        "apitoken",
        str(created["id"]),
    )
    assert revoke_row.action == "token.revoke"
    everything = json.dumps(list(AuditLog.objects.values()), default=str)
    assert created["token"] not in everything
    assert created["token"][12:] not in everything


@pytest.mark.parametrize(
    ("action", "perform"),
    [
        ("workspace.create", lambda client, p: client.post("/api/v1/workspaces/", {"name": "New"}, format="json")),
        (
            "workspace.rename",
            lambda client, p: client.patch(f"/api/v1/workspaces/{p.workspace.pk}/", {"name": "Renamed"}, format="json"),
        ),
        (
            "workspace.delete",
            lambda client, p: client.delete(f"/api/v1/workspaces/{p.workspace.pk}/?confirm=Team%20project"),
        ),
        ("workspace.reprovision", lambda client, p: client.post(f"/api/v1/workspaces/{p.workspace.pk}/reprovision/")),
        (
            "member.add",
            lambda client, p: client.post(
                f"/api/v1/workspaces/{p.workspace.pk}/members/", {"username": "oscar", "role": "viewer"}, format="json"
            ),
        ),
        (
            "member.role_change",
            lambda client, p: client.patch(
                f"/api/v1/workspaces/{p.workspace.pk}/members/{Membership.objects.get(user=p.viewer).pk}/",
                {"role": "editor"},
                format="json",
            ),
        ),
        (
            "member.remove",
            lambda client, p: client.delete(
                f"/api/v1/workspaces/{p.workspace.pk}/members/{Membership.objects.get(user=p.viewer).pk}/"
            ),
        ),
    ],
)
def test_it_records_workspace_and_membership_changes_once(api, personas, action, perform):
    # As if a worker had provisioned the workspace: a queued provisioning refuses another.
    Job.objects.filter(target_id=str(personas.workspace.pk)).update(status=Job.Status.SUCCEEDED)
    client = api.as_user(personas.owner)
    before = last_id()

    response = perform(client, personas)

    assert response.status_code < 300, response.content
    row = only_new_row(before)
    assert row.action == action
    assert row.actor_id == personas.owner.pk
    assert row.workspace_id is not None
    assert row.workspace_name
    assert row.request_id == response["X-Request-ID"]


def test_it_records_file_deletes_with_the_path_and_not_the_contents(api, personas):
    root = make_ready(personas.workspace)
    (root / "notes.txt").write_text("top secret contents")
    client = api.as_user(personas.editor)
    before = last_id()

    response = client.delete(f"/api/v1/workspaces/{personas.workspace.pk}/files/?path=notes.txt")

    assert response.status_code == 204
    row = only_new_row(before)
    assert (row.action, row.metadata) == ("file.delete", {"path": "notes.txt", "type": "file"})
    assert "top secret" not in json.dumps(list(AuditLog.objects.values()), default=str)


def test_it_records_admin_changes_without_field_values(personas):
    client = signed_in(personas.site_admin)
    before = last_id()

    response = client.post(
        f"/admin/platform_core/user/{personas.viewer.pk}/change/",
        {
            "username": "vera",
            "first_name": "Vera",
            "last_name": "",
            "email": "vera@example.test",
            "site_role": "auditor",
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == 302, response.content[:2000]
    row = only_new_row(before)
    assert row.action == "admin.user.change"
    assert set(row.metadata["fields"]) >= {"first_name", "site_role"}
    personas.viewer.refresh_from_db()
    assert personas.viewer.site_role == "auditor"
    assert personas.viewer.is_staff


def test_it_refuses_to_change_or_delete_audit_rows(personas):
    row = AuditLog.objects.first()

    with pytest.raises(Exception, match="immutable"):
        row.save()
    with pytest.raises(Exception, match="immutable"):
        row.delete()


def test_it_serves_the_audit_log_to_auditors_and_admins_only(api, personas):
    for user, expected in [(personas.auditor, 200), (personas.site_admin, 200), (personas.owner, 403)]:
        assert api.as_user(user).get("/api/v1/audit/").status_code == expected

    filtered = api.as_user(personas.auditor).get("/api/v1/audit/?action=member.add").json()
    assert filtered["count"] == 2
    searched = api.as_user(personas.auditor).get("/api/v1/audit/?search=vera").json()
    assert {row["action"] for row in searched["results"]} == {"member.add"}
