"""Access changes reach the IDE in headless Chromium: a demoted editor's terminal turns read-only, and back."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from platform_core.services import do_create_api_token
from tests.conftest import log_in, make_ready, make_user, wait_until
from tests.test_browser_terminal import terminal_text
from workspaces import services
from workspaces.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def change_role(base_url: str, token: str, membership: Membership, role: str) -> None:
    # Through the server process: the in-memory channel layer does not cross processes.
    request = urllib.request.Request(  # noqa: S310 - the test server on loopback
        f"{base_url}/api/v1/workspaces/{membership.workspace_id}/members/{membership.pk}/",
        method="PATCH",
        data=json.dumps({"role": role}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - the test server on loopback
        assert response.status == 200


def test_a_demoted_editors_terminal_turns_read_only_and_back_without_reconnecting(page, platform_server):
    owner = make_user("olivia")
    editor = make_user("eddie")
    workspace = services.do_create_workspace("Access project", acting_user=owner)
    services.do_add_member(workspace, editor, Membership.Role.EDITOR, acting_user=owner)
    make_ready(workspace)
    _, token = do_create_api_token(owner, "browser test", 1)
    membership = Membership.objects.get(workspace=workspace, user=editor)
    log_in(page, "eddie")
    page.goto(f"/workspaces/{workspace.pk}/")
    tab = page.locator("[data-testid=terminal-tab][data-name=main]")
    badge = tab.locator("[data-testid=terminal-readonly]")
    expect(tab).to_have_attribute("data-state", "ready")
    expect(badge).to_be_hidden()

    change_role(platform_server.base_url, token, membership, Membership.Role.VIEWER)

    expect(badge).to_be_visible(timeout=5_000)
    wait_until(lambda: "read-only for you" in terminal_text(page), timeout=5, message="the read-only notice")
    expect(tab).to_have_attribute("data-state", "ready")

    change_role(platform_server.base_url, token, membership, Membership.Role.EDITOR)

    expect(badge).to_be_hidden(timeout=5_000)
    page.locator("[data-testid=terminal][data-name=main]").click()
    page.keyboard.type("echo __typed_again__$((40+2))")
    page.keyboard.press("Enter")
    wait_until(lambda: "__typed_again__42" in terminal_text(page), timeout=15, message="the command's output")
