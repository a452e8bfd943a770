"""The admin site: every model page renders, audit rows are read-only, actions go through services."""

import pytest
from django.test import Client

from platform_core.models import AuditLog, Job
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "/admin/",
    "/admin/platform_core/user/",
    "/admin/platform_core/user/add/",
    "/admin/platform_core/apitoken/",
    "/admin/platform_core/auditlog/",
    "/admin/platform_core/job/",
    "/admin/workspaces/workspace/",
    "/admin/workspaces/membership/",
]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_it_renders_every_admin_page_for_site_admins(personas, path):
    assert signed_in(personas.site_admin).get(path).status_code == 200


def test_it_renders_a_workspace_with_its_members_inline(personas):
    page = signed_in(personas.site_admin).get(f"/admin/workspaces/workspace/{personas.workspace.pk}/change/")

    assert page.status_code == 200
    assert b"eddie" in page.content
    assert b"Re-provision" in signed_in(personas.site_admin).get("/admin/workspaces/workspace/").content


def test_it_shows_auditors_the_audit_log_and_nothing_else(personas):
    auditor = signed_in(personas.auditor)
    row = AuditLog.objects.first()

    assert auditor.get("/admin/platform_core/auditlog/").status_code == 200
    assert auditor.get(f"/admin/platform_core/auditlog/{row.pk}/change/").status_code == 200
    assert auditor.get("/admin/platform_core/user/").status_code == 403
    assert auditor.get("/admin/workspaces/workspace/").status_code == 403


def test_it_links_the_admin_home_to_the_language_server_sessions(personas):
    home = signed_in(personas.site_admin).get("/admin/")

    assert home.status_code == 200
    assert b'href="/admin/language-servers/"' in home.content
    assert signed_in(personas.site_admin).get("/admin/language-servers/").status_code == 200
    # Auditors cannot open that page, so their home does not offer it.
    assert b"/admin/language-servers/" not in signed_in(personas.auditor).get("/admin/").content


def test_it_keeps_members_out_of_the_admin(personas):
    response = signed_in(personas.owner).get("/admin/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_it_offers_no_way_to_edit_or_delete_audit_rows(personas):
    admin = signed_in(personas.site_admin)
    row = AuditLog.objects.first()

    assert admin.post(f"/admin/platform_core/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.get("/admin/platform_core/auditlog/add/").status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_it_reprovisions_from_the_admin_through_the_service(personas):
    Workspace.objects.filter(pk=personas.workspace.pk).update(status="error", status_message="boom")
    Job.objects.filter(target_id=str(personas.workspace.pk)).update(status=Job.Status.FAILED)

    response = signed_in(personas.site_admin).post(
        "/admin/workspaces/workspace/",
        {"action": "reprovision", "_selected_action": [personas.workspace.pk]},
    )

    assert response.status_code == 302
    personas.workspace.refresh_from_db()
    assert personas.workspace.status == "pending"
    assert AuditLog.objects.filter(action="workspace.reprovision", actor=personas.site_admin).count() == 1


def test_it_says_which_workspaces_are_already_being_provisioned_instead_of_failing(personas):
    # The workspace's creation queued its provisioning; no worker has taken it yet.
    response = signed_in(personas.site_admin).post(
        "/admin/workspaces/workspace/",
        {"action": "reprovision", "_selected_action": [personas.workspace.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "already being provisioned" in response.content.decode()
    assert not AuditLog.objects.filter(action="workspace.reprovision").exists()


def test_it_changes_roles_in_the_inline_through_the_service(personas):
    from guardian.shortcuts import get_perms

    from workspaces.models import Membership

    memberships = list(Membership.objects.filter(workspace=personas.workspace).order_by("user__username"))
    data = {
        "name": personas.workspace.name,
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, membership in enumerate(memberships):
        role = "editor" if membership.user == personas.viewer else membership.role
        data |= {
            f"memberships-{index}-id": str(membership.pk),
            f"memberships-{index}-workspace": str(personas.workspace.pk),
            f"memberships-{index}-user": str(membership.user_id),
            f"memberships-{index}-role": role,
        }

    response = signed_in(personas.site_admin).post(f"/admin/workspaces/workspace/{personas.workspace.pk}/change/", data)

    assert response.status_code == 302, response.content[:3000]
    assert "edit_workspace_files" in get_perms(personas.viewer, personas.workspace)
    assert AuditLog.objects.filter(action="member.role_change", actor=personas.site_admin).count() == 1
