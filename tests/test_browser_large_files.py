"""Large files in the IDE, in headless Chromium: no language servers above one size, read-only above another."""

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from tests.conftest import log_in, make_ready, make_user
from workspaces import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARKERS = """owner => window.devbench.monaco.editor.getModelMarkers({owner}).map(m => m.resource.path)"""


@pytest.fixture
def workspace_root():
    owner = make_user("olivia")
    workspace = services.do_create_workspace("Large files", acting_user=owner)
    root = make_ready(workspace)
    (root / "small.py").write_text('count: int = "three"\n')
    return workspace, root


@pytest.fixture
def language_sockets(page):
    """URLs of the language-server sockets the page opens, and the text frames it sends on them."""
    opened, sent = [], []

    def on_websocket(socket):
        if "/lsp/" in socket.url:
            opened.append(socket.url)
            socket.on("framesent", lambda payload: sent.append(payload) if isinstance(payload, str) else None)

    page.on("websocket", on_websocket)
    return opened, sent


def open_ide(page, workspace):
    log_in(page, "olivia")
    page.goto(f"/workspaces/{workspace.pk}/")
    for server in ("pyright", "ruff"):
        expect(page.get_by_test_id(f"lsp-badge-{server}")).to_have_attribute("data-state", "running", timeout=60_000)


def test_a_large_python_file_opens_without_language_servers_and_they_stay_connected(
    page, workspace_root, language_sockets
):
    workspace, root = workspace_root
    big = "import os\n" + "value = 1\n" * 150_000  # 1.5 MB, over EDITOR_LSP_MAX_BYTES
    assert django_settings.EDITOR_LSP_MAX_BYTES < len(big) <= django_settings.EDITOR_EDIT_MAX_BYTES
    (root / "big.py").write_text(big)
    opened, sent = language_sockets
    open_ide(page, workspace)

    page.locator("[data-testid=tree-item][data-path='big.py']").click()
    expect(page.get_by_test_id("editor-note")).to_contain_text("no language servers")
    page.locator("[data-testid=tree-item][data-path='small.py']").click()
    # pyright's marker on the small file: the servers work, and had time to fall over.
    page.wait_for_function(f"() => ({MARKERS})('lsp:pyright').includes('/workspace/small.py')", timeout=60_000)

    assert len(opened) == 2, opened  # one per server: no reconnects
    assert not [frame for frame in sent if "big.py" in frame], "the large file reached a language server"
    assert not page.evaluate(f"() => ({MARKERS})('lsp:ruff').includes('/workspace/big.py')")
    expect(page.get_by_test_id("editor-note")).to_be_hidden()  # the small file has no note
    page.locator("[data-testid=editor-tab][data-path='big.py']").click()
    expect(page.get_by_test_id("editor-note")).to_contain_text("no language servers")
    assert (
        page.evaluate(
            "() => window.devbench.tabs.editor.getOption(window.devbench.monaco.editor.EditorOption.readOnly)"
        )
        is False
    )


def test_a_file_over_the_edit_threshold_opens_read_only(page, workspace_root):
    workspace, root = workspace_root
    huge = "# data\n" + "x = 1\n" * ((django_settings.EDITOR_EDIT_MAX_BYTES // 6) + 1000)
    (root / "huge.py").write_text(huge)
    open_ide(page, workspace)

    page.locator("[data-testid=tree-item][data-path='huge.py']").click()
    expect(page.get_by_test_id("editor-note")).to_contain_text("read-only")
    page.locator("#editor .view-lines").click()
    page.keyboard.type("typed")

    assert page.evaluate("() => window.devbench.tabs.editor.getValue().startsWith('# data')")
    assert "typed" not in page.evaluate("() => window.devbench.tabs.editor.getValue().slice(0, 200)")
    expect(page.get_by_test_id("save-status")).to_have_attribute("data-state", "readonly")
