"""The IDE flow in headless Chromium against the real server and worker."""

import pytest
from playwright.sync_api import expect

from tests.conftest import log_in, make_user
from workspaces.runtime import get_runtime

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def editor_text(page) -> str:
    return page.locator("#editor .view-lines").inner_text().replace("\u00a0", " ")


def test_it_creates_edits_saves_and_reloads_a_file(page, celery_worker):
    make_user("olivia")
    log_in(page, "olivia")

    page.get_by_test_id("new-workspace").click()
    page.get_by_test_id("workspace-name-input").fill("Browser project")
    page.get_by_test_id("create-workspace").click()
    row = page.locator("[data-testid=workspace-row][data-name='Browser project']")
    expect(row).to_have_attribute("data-status", "ready", timeout=120_000)
    row.get_by_test_id("open-workspace").click()

    expect(page.locator("[data-testid=tree-item][data-path='main.py']")).to_be_visible()
    page.get_by_test_id("new-file").click()
    page.get_by_test_id("name-dialog-input").fill("hello.py")
    page.get_by_test_id("name-dialog-ok").click()
    tab = page.locator("[data-testid=editor-tab][data-path='hello.py']")
    expect(tab).to_be_visible()

    page.locator("#editor .view-lines").click()
    page.keyboard.type('print("saved from the browser")')
    expect(tab).to_have_attribute("data-dirty", "true")
    page.keyboard.press("Control+s")
    expect(tab).to_have_attribute("data-dirty", "false")
    expect(page.get_by_test_id("save-status")).to_have_attribute("data-state", "saved")

    page.reload()
    page.locator("[data-testid=tree-item][data-path='hello.py']").click()
    expect(page.locator("#editor .view-lines")).to_contain_text("saved from the browser")
    workspace_id = int(page.locator("#ide").get_attribute("data-workspace-id"))
    assert 'print("saved from the browser")' in (get_runtime().root(workspace_id) / "hello.py").read_text()
    assert page.js_errors == []


def test_it_shows_a_conflict_instead_of_overwriting_a_newer_file(page, celery_worker):
    from workspaces import services

    owner = make_user("olivia")
    workspace = services.do_create_workspace("Conflicts", acting_user=owner)
    log_in(page, "olivia")
    expect(page.locator(f"[data-workspace-id='{workspace.pk}']")).to_have_attribute(
        "data-status", "ready", timeout=120_000
    )
    page.goto(f"/workspaces/{workspace.pk}/")
    page.locator("[data-testid=tree-item][data-path='main.py']").click()
    expect(page.locator("#editor .view-lines")).to_contain_text("Hello from Devbench")

    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# my edit")
    # Someone else (another tab, the terminal) changes the file meanwhile.
    # (Before the edit, the unmodified tab would simply reload: test_browser_file_events.py.)
    on_disk = get_runtime().root(workspace.pk) / "main.py"
    on_disk.write_text('print("changed elsewhere")\n')
    page.keyboard.press("Control+s")

    conflict = page.get_by_test_id("conflict-bar")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("changed on disk")
    assert on_disk.read_text() == 'print("changed elsewhere")\n'
    expect(page.locator("[data-testid=editor-tab][data-path='main.py']")).to_have_attribute("data-dirty", "true")
