"""A page on another port of the same host cannot drive a signed-in user's terminal (headless Chromium).

The browser sends the session cookie with the other page's WebSocket handshake (cookies ignore
ports, and another port is the same site), so only the Origin check stands in the way.
"""

import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.conftest import log_in, make_ready, make_user, wait_until
from tests.test_browser_terminal import terminal_text
from workspaces import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OTHER_PAGE = """<!doctype html>
<title>Another port</title>
<p id="result" data-state="pending">pending</p>
<script>
  const result = document.getElementById("result");
  const socket = new WebSocket("{socket_url}");
  socket.onopen = () => {{
    result.dataset.state = "open";
    socket.send(new TextEncoder().encode("touch written-by-another-port\\r"));
  }};
  socket.onclose = (event) => {{
    if (result.dataset.state === "pending") result.dataset.state = "refused";
    result.dataset.code = String(event.code);
  }};
</script>
"""


@pytest.fixture
def other_port_server(tmp_path):
    """A plain http.server on 127.0.0.1 and a free port: what a workspace user could start."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.root = tmp_path
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_a_page_on_another_port_cannot_open_the_terminal_but_the_ide_can(page, platform_server, other_port_server):
    owner = make_user("olivia")
    workspace = services.do_create_workspace("Origin project", acting_user=owner)
    root = make_ready(workspace)
    log_in(page, "olivia")
    socket_url = platform_server.base_url.replace("http://", "ws://") + f"/ws/workspaces/{workspace.pk}/terminals/x/"
    (other_port_server.root / "index.html").write_text(OTHER_PAGE.format(socket_url=socket_url))

    page.goto(f"{other_port_server.base_url}/index.html")

    result = page.locator("#result")
    expect(result).to_have_attribute("data-state", "refused")
    assert result.get_attribute("data-code") == "1006"  # the handshake failed: no socket ever opened
    platform_server.wait_for_line("websocket_origin_refused", other_port_server.base_url)

    page.goto(f"{platform_server.base_url}/workspaces/{workspace.pk}/")
    expect(page.locator("[data-testid=terminal-tab][data-name=main]")).to_have_attribute("data-state", "ready")
    page.locator("[data-testid=terminal][data-name=main]").click()
    page.keyboard.type("echo $((6*7)); ls")
    page.keyboard.press("Enter")
    wait_until(lambda: re.search(r"^42$", terminal_text(page), re.MULTILINE), timeout=30, message="42 in the terminal")
    assert "written-by-another-port" not in terminal_text(page)
    assert not (root / "written-by-another-port").exists()
