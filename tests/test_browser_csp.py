"""Every page works under the Content-Security-Policy, in headless Chromium.

A page records each `securitypolicyviolation` event from the moment its document starts; the
browser's own "Refused to ..." console messages (from pages and workers) are collected as well.
A policy that blocked something Monaco, xterm.js, the admin or Swagger UI needs shows up in one
of the two, or in the page not working.
"""

import re

import pytest
from playwright.sync_api import expect

from platform_core.models import User
from tests.conftest import log_in, make_ready, make_user, wait_until
from tests.test_browser_terminal import terminal_text
from workspaces import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} in ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def watched(page):
    """The page, recording policy violations and the browser's CSP console errors (workers' too)."""
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.csp_console = []

    def record(message):
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            page.csp_console.append(message.text)

    page.on("console", record)
    page.on("worker", lambda worker: worker.on("console", record))
    return page


def violations(page) -> list[str]:
    """This document's violations (the list starts empty with every navigation)."""
    return page.evaluate("window.cspViolations")


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def test_monaco_and_xterm_work_under_the_policy(watched, platform_server):
    page = watched
    owner = make_user("olivia")
    workspace = services.do_create_workspace("Policy project", acting_user=owner)
    (make_ready(workspace) / "hello.py").write_text("def greet(name):\n    return name\n")
    log_in(page, "olivia")

    # Monaco starts its worker from a blob: script that imports static/dist/editor.worker.js.
    with page.expect_request_finished(lambda request: "editor.worker.js" in request.url) as worker_script:
        response = page.goto(f"/workspaces/{workspace.pk}/")
        page.locator("[data-testid=tree-item][data-path='hello.py']").click()
        expect(page.locator("#editor .view-lines")).to_contain_text("def greet")
    assert worker_script.value.response().status == 200
    assert len(page.workers) == 1
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"]
    assert platform_server.base_url.replace("http://", "ws://") in policy["connect-src"]

    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nprint(greet('policy'))")
    expect(page.locator("#editor .view-lines")).to_contain_text("print(greet('policy'))")
    # Syntax colouring comes from rules Monaco writes into a <style> element at run time.
    token_colours = page.locator("#editor .view-lines span[class^=mtk]").evaluate_all(
        "spans => [...new Set(spans.map(span => getComputedStyle(span).color))]"
    )
    assert len(token_colours) > 2, token_colours

    expect(page.locator("[data-testid=terminal-tab][data-name=main]")).to_have_attribute("data-state", "ready")
    page.locator("[data-testid=terminal][data-name=main]").click()
    page.keyboard.type("echo $((6*7))")
    page.keyboard.press("Enter")
    wait_until(lambda: re.search(r"^42$", terminal_text(page), re.MULTILINE), timeout=30, message="42 in the terminal")

    assert violations(page) == []
    assert page.csp_console == []
    assert page.js_errors == []


def test_the_other_pages_work_under_the_policy(watched, platform_server):
    page = watched
    admin = make_user("ada", User.SiteRole.ADMIN)
    workspace = services.do_create_workspace("Admin's project", acting_user=admin)
    make_ready(workspace)

    def visit(path: str):
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        assert policy_of(response)["script-src"] == ["'self'"], path
        return response

    visit("/accounts/login/")
    assert violations(page) == []
    log_in(page, "ada")
    for path in ["/", f"/workspaces/{workspace.pk}/members/", "/tokens/", "/accounts/password/"]:
        visit(path)
        page.wait_for_load_state("networkidle")
        assert violations(page) == [], path

    # The admin, with its own scripts (the theme switch, the changelist's actions).
    for path in ["/admin/", "/admin/platform_core/user/", f"/admin/platform_core/user/{admin.pk}/change/"]:
        visit(path)
        page.wait_for_load_state("networkidle")
        assert violations(page) == [], path
    visit("/admin/language-servers/")
    assert violations(page) == []

    # Swagger UI: its start-up script is a file of its own, and it renders the operations.
    visit("/api/docs/")
    expect(page.locator(".opblock").first).to_be_visible()
    page.locator(".opblock-summary", has_text="/api/v1/workspaces/").first.click()
    page.get_by_role("button", name="Try it out").first.click()
    page.get_by_role("button", name="Execute").first.click()
    expect(page.locator(".live-responses-table tbody .response-col_status").first).to_contain_text("200")
    assert violations(page) == []

    assert page.csp_console == []
    assert page.js_errors == []
