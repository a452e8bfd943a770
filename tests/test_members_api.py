import pytest
from guardian.shortcuts import get_perms

from workspaces.models import Membership

pytestmark = pytest.mark.django_db


def members_url(workspace, member_id=None):
    base = f"/api/v1/workspaces/{workspace.pk}/members/"
    return f"{base}{member_id}/" if member_id else base


def test_it_lets_owners_add_members_with_a_role(api, personas):
    response = api.as_user(personas.owner).post(
        members_url(personas.workspace), {"username": personas.outsider.username, "role": "editor"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["role"] == "editor"
    assert set(get_perms(personas.outsider, personas.workspace)) == {
        "view_workspace",
        "edit_workspace_files",
        "use_workspace_terminal",
    }


def test_it_maps_role_changes_to_object_permissions(api, personas):
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)

    response = api.as_user(personas.owner).patch(
        members_url(personas.workspace, membership.pk), {"role": "owner"}, format="json"
    )

    assert response.status_code == 200
    assert "manage_workspace_members" in get_perms(personas.viewer, personas.workspace)
    assert "delete_workspace" in get_perms(personas.viewer, personas.workspace)


def test_it_removes_every_permission_with_the_membership(api, personas):
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.editor)

    response = api.as_user(personas.owner).delete(members_url(personas.workspace, membership.pk))

    assert response.status_code == 204
    assert get_perms(personas.editor, personas.workspace) == []
    assert api.as_user(personas.editor).get(f"/api/v1/workspaces/{personas.workspace.pk}/").status_code == 404


def test_it_never_removes_or_demotes_the_last_owner(api, personas):
    owner_membership = Membership.objects.get(workspace=personas.workspace, user=personas.owner)
    client = api.as_user(personas.owner)

    removed = client.delete(members_url(personas.workspace, owner_membership.pk))
    demoted = client.patch(members_url(personas.workspace, owner_membership.pk), {"role": "viewer"}, format="json")

    # 409: the request is well formed; the workspace's current members refuse it.
    assert removed.status_code == 409
    assert removed.json()["error"]["code"] == "last_owner"
    assert demoted.status_code == 409
    assert Membership.objects.get(pk=owner_membership.pk).role == "owner"


def test_it_allows_removing_an_owner_when_another_remains(api, personas):
    second = Membership.objects.get(workspace=personas.workspace, user=personas.editor)
    client = api.as_user(personas.owner)
    client.patch(members_url(personas.workspace, second.pk), {"role": "owner"}, format="json")
    first = Membership.objects.get(workspace=personas.workspace, user=personas.owner)

    assert client.delete(members_url(personas.workspace, first.pk)).status_code == 204


def test_it_reports_unknown_users_and_duplicates_clearly(api, personas):
    client = api.as_user(personas.owner)

    unknown = client.post(members_url(personas.workspace), {"username": "nobody", "role": "viewer"}, format="json")
    duplicate = client.post(
        members_url(personas.workspace), {"username": personas.viewer.username, "role": "viewer"}, format="json"
    )
    bad_role = client.post(
        members_url(personas.workspace), {"username": personas.outsider.username, "role": "king"}, format="json"
    )

    assert unknown.status_code == 400
    assert "nobody" in unknown.json()["error"]["message"]
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "already_member"
    assert bad_role.status_code == 400


def test_it_lets_every_member_list_members_but_only_owners_change_them(api, personas):
    listed = api.as_user(personas.viewer).get(members_url(personas.workspace))
    refused = api.as_user(personas.editor).post(
        members_url(personas.workspace), {"username": personas.outsider.username, "role": "viewer"}, format="json"
    )

    assert listed.status_code == 200
    assert {row["user"]["username"] for row in listed.json()["results"]} == {"olivia", "eddie", "vera"}
    assert refused.status_code == 403
