"""The IDE following the disk, per role, and a workspace deleted elsewhere, in headless Chromium.

Real daphne, real sandboxed shells, real inotify: files made in the IDE's own
terminal appear in the tree, open files follow the disk, viewers get no
actions they cannot use, a deletion in another page closes this one.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import log_in, make_ready, make_user, wait_until
from workspaces import services
from workspaces.models import Membership, Workspace
from workspaces.runtime import get_runtime

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHANGED = 'print("changed in a terminal")\n'
MODEL_TEXT = "() => window.devbench.tabs.active && window.devbench.tabs.active.model.getValue()"


def tree_item(page, path: str):
    return page.locator(f"[data-testid=tree-item][data-path='{path}']")


@pytest.fixture
def workspace(db) -> Workspace:
    owner = make_user("olivia")
    workspace = services.do_create_workspace("Followed project", acting_user=owner)
    root = make_ready(workspace)
    (root / "main.py").write_text('print("hello")\n')
    return workspace


def open_ide(page, workspace: Workspace, username: str = "olivia"):
    log_in(page, username)
    page.goto(f"/workspaces/{workspace.pk}/")
    expect(page.locator("#ide")).to_have_attribute("data-events-state", "ready")
    expect(tree_item(page, "main.py")).to_be_visible()
    return page


def test_a_file_made_in_the_ide_terminal_appears_in_the_tree_within_a_second(page, workspace):
    open_ide(page, workspace)
    expect(page.locator("[data-testid=terminal-tab][data-name=main]")).to_have_attribute("data-state", "ready")
    page.locator("[data-testid=terminal][data-name=main]").click()
    # The tree is updated in place, not redrawn: this row must survive.
    page.evaluate("document.querySelector(\"[data-testid=tree-item][data-path='main.py']\").devbenchMark = 'kept'")

    page.keyboard.type("mkdir -p pkg && touch made_in_terminal.py")
    started = time.monotonic()
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=tree-item][data-path='made_in_terminal.py']", timeout=5_000)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0, f"appeared after {elapsed:.2f}s"
    expect(tree_item(page, "pkg")).to_have_attribute("data-type", "directory")
    kept = page.evaluate("document.querySelector(\"[data-testid=tree-item][data-path='main.py']\").devbenchMark")
    assert kept == "kept"

    page.keyboard.type("rm made_in_terminal.py")
    page.keyboard.press("Enter")
    expect(tree_item(page, "made_in_terminal.py")).to_have_count(0)
    assert page.js_errors == []


def test_an_open_unmodified_file_reloads_when_the_disk_changes(page, workspace):
    open_ide(page, workspace)
    tree_item(page, "main.py").click()
    expect(page.locator("[data-testid=editor-tab][data-path='main.py']")).to_be_visible()

    (get_runtime().root(workspace.pk) / "main.py").write_text(CHANGED)

    wait_until(lambda: page.evaluate(MODEL_TEXT) == CHANGED, timeout=5, message="the reloaded text")
    expect(page.get_by_test_id("conflict-bar")).to_be_hidden()
    expect(page.locator("[data-testid=editor-tab][data-path='main.py']")).to_have_attribute("data-dirty", "false")
    assert page.js_errors == []


def test_a_modified_open_file_shows_the_conflict_bar_when_the_disk_changes(page, workspace):
    open_ide(page, workspace)
    tree_item(page, "main.py").click()
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("# my unsaved edit")
    tab = page.locator("[data-testid=editor-tab][data-path='main.py']")
    expect(tab).to_have_attribute("data-dirty", "true")

    (get_runtime().root(workspace.pk) / "main.py").write_text(CHANGED)

    conflict = page.get_by_test_id("conflict-bar")
    expect(conflict).to_be_visible(timeout=5_000)
    expect(conflict).to_contain_text("changed on disk")
    assert "# my unsaved edit" in page.evaluate(MODEL_TEXT)
    expect(tab).to_have_attribute("data-dirty", "true")

    page.get_by_test_id("conflict-reload").click()
    wait_until(lambda: page.evaluate(MODEL_TEXT) == CHANGED, timeout=5, message="the text from disk")
    expect(conflict).to_be_hidden()


def test_a_viewer_sees_no_actions_they_cannot_use(page, workspace):
    viewer = make_user("vera")
    services.do_add_member(workspace, viewer, Membership.Role.VIEWER, acting_user=workspace.created_by)

    open_ide(page, workspace, "vera")

    actions = ("new-file", "new-folder", "upload-files", "run-button", "stop-button", "new-terminal", "kill-terminal")
    for testid in actions:
        expect(page.get_by_test_id(testid)).to_have_count(0)
    expect(page.get_by_test_id("refresh-tree")).to_be_visible()
    tree_item(page, "main.py").click(button="right")
    items = page.locator("[data-testid=context-menu] [data-testid]").all()
    menu = [item.get_attribute("data-testid") for item in items]
    assert menu == ["ctx-open", "ctx-download"]
    page.keyboard.press("Escape")

    tree_item(page, "main.py").click()
    page.locator("#editor .view-lines").click()
    page.keyboard.type("typed by a viewer")
    assert page.evaluate(MODEL_TEXT) == 'print("hello")\n'
    expect(page.locator("[data-testid=editor-tab][data-path='main.py']")).to_have_attribute("data-dirty", "false")
    # Viewers still follow the disk.
    (get_runtime().root(workspace.pk) / "from_an_editor.py").touch()
    expect(tree_item(page, "from_an_editor.py")).to_be_visible(timeout=5_000)


def test_deleting_the_workspace_in_another_page_closes_every_panel_with_one_message(page, workspace):
    open_ide(page, workspace)
    tree_item(page, "main.py").click()
    expect(page.locator("[data-testid=terminal-tab][data-name=main]")).to_have_attribute("data-state", "ready")

    other = page.context.new_page()
    other.goto("/")
    row = other.locator(f"[data-testid=workspace-row][data-workspace-id='{workspace.pk}']")
    row.get_by_test_id("delete-workspace").click()
    other.get_by_test_id("delete-confirm-input").fill("Followed project")
    other.get_by_test_id("delete-confirm-ok").click()
    expect(row).to_have_count(0)

    closed = page.get_by_test_id("workspace-closed")
    expect(closed).to_be_visible(timeout=5_000)
    expect(closed).to_have_count(1)
    expect(closed).to_contain_text("This workspace was deleted")
    for panel in ("file-tree", "editor", "terminal-panel", "output-panel", "lsp-status"):
        expect(page.get_by_test_id(panel)).to_have_count(0)
    expect(page.locator("[data-testid=toast][data-kind=error]")).to_have_count(0)
    back = page.get_by_test_id("workspace-closed-back")
    expect(back).to_be_focused()
    back.click()
    expect(page).to_have_url(re.compile(r"/$"))
    assert page.js_errors == []


def test_an_empty_file_can_be_uploaded(page, workspace):
    open_ide(page, workspace)

    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("upload-files").click()
    chooser.value.set_files([{"name": "__init__.py", "mimeType": "text/x-python", "buffer": b""}])

    expect(page.locator("[data-testid=toast]", has_text="Uploaded 1 file")).to_be_visible()
    expect(tree_item(page, "__init__.py")).to_be_visible()
    assert (get_runtime().root(workspace.pk) / "__init__.py").read_bytes() == b""
