"""The terminal in headless Chromium: real shell, real venv, real pip."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import log_in, make_user, wait_until
from workspaces import services
from workspaces.environment.testing import build_wheel
from workspaces.models import Workspace
from workspaces.runtime import get_runtime

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BUFFER_TEXT = """name => {
  const term = window.devbenchTerminals.get(name).term;
  const buffer = term.buffer.active;
  const lines = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
  return lines.join("\\n");
}"""


def terminal_text(page, name="main") -> str:
    return page.evaluate(BUFFER_TEXT, name)


@pytest.fixture
def ide(page, celery_worker):
    owner = make_user("olivia")
    workspace = services.do_create_workspace("Terminal project", acting_user=owner)
    wait_until(
        lambda: Workspace.objects.get(pk=workspace.pk).status == Workspace.Status.READY,
        timeout=120,
        message="the workspace to be provisioned",
    )
    log_in(page, "olivia")
    page.goto(f"/workspaces/{workspace.pk}/")
    expect(page.locator("[data-testid=terminal-tab][data-name=main]")).to_have_attribute("data-state", "ready")
    page.locator("[data-testid=terminal][data-name=main]").click()
    return page


def test_it_runs_python_typed_in_the_browser_terminal(ide):
    ide.keyboard.type('python -c "print(6*7)"')
    ide.keyboard.press("Enter")

    wait_until(lambda: re.search(r"^42$", terminal_text(ide), re.MULTILINE), timeout=30, message="42 in the terminal")
    assert "(.venv)" in terminal_text(ide)


def test_it_announces_package_changes_after_pip_install(ide):
    workspace = Workspace.objects.get(name="Terminal project")
    wheel = build_wheel(get_runtime().root(workspace.pk))  # the shell (sandboxed) sees only its workspace

    ide.keyboard.type(f"pip install --no-index ./{wheel.name}")
    ide.keyboard.press("Enter")

    toast = ide.locator("[data-testid=toast]", has_text="Packages changed")
    expect(toast).to_be_visible(timeout=30_000)
    assert "Successfully installed tinypkg-1.0" in terminal_text(ide)


def test_it_gives_the_prompt_back_quickly_after_ctrl_c_during_yes(ide):
    ide.keyboard.type("yes")
    ide.keyboard.press("Enter")
    wait_until(lambda: terminal_text(ide).count("\ny") > 100, timeout=30, message="yes to flood the terminal")

    started = time.monotonic()
    ide.keyboard.press("Control+c")
    wait_until(
        lambda: re.search(r"[$#] ?$", terminal_text(ide).rstrip("\n")),
        timeout=10,
        interval=0.01,
        message="the prompt after Ctrl+C",
    )
    elapsed = time.monotonic() - started

    assert elapsed < 0.5, f"prompt back after {elapsed:.3f}s"
