"""Language servers over the real ASGI application: real basedpyright and ruff, real processes."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings

from lsp import manager as manager_module
from lsp import metrics as lsp_metrics
from lsp.consumers import MAX_TEXT_FRAME_BYTES
from platform_core.close_codes import FAILED, REPLACED, RESTART
from platform_core.models import AuditLog
from tests.conftest import make_ready
from tests.lsp_client import TIMEOUT, LanguageClient, connect_lsp, session_cookie
from workspaces.environment.testing import build_wheel, provision_workspace_venv, run_in_workspace
from workspaces.environment.watcher import EnvironmentWatcher
from workspaces.runtime.local import session_members
from workspaces.runtime.sandbox import sandbox_status

pytestmark = pytest.mark.django_db(transaction=True)

TYPE_ERROR = 'count: int = "three"\n'


@pytest.fixture
async def manager(monkeypatch):
    """A fresh manager and environment watcher per test, on the test's event loop."""
    watcher = EnvironmentWatcher(poll_interval=0.1)
    fresh = manager_module.LanguageServerManager(environment_watcher=watcher)
    monkeypatch.setattr(manager_module.MANAGER, "instance", fresh)
    yield fresh
    await fresh.close_all()
    await watcher.close()


@pytest.fixture
def workspace(personas):
    make_ready(personas.workspace)
    return personas.workspace


@pytest.fixture
def root(workspace) -> Path:
    return Path(django_settings.WORKSPACES_ROOT) / f"ws-{workspace.pk}"


@pytest.fixture
async def open_lsp(client, workspace, manager):
    """``await open_lsp(user, server)``: a connected LanguageClient (closed at the end)."""
    opened = []

    async def open_(user, server="pyright", *, expect_accept=True):
        cookie = await sync_to_async(session_cookie)(client, user)
        language_client = LanguageClient(connect_lsp(workspace.pk, server, cookie))
        connected, code = await language_client.connect()
        if expect_accept:
            assert connected, f"refused with {code}"
        else:
            language_client.refused = (not connected, code)
        if connected:
            opened.append(language_client)
        return language_client

    yield open_
    for language_client in opened:
        await language_client.disconnect()


def crash_restarts(server: str) -> float:
    """devbench_lsp_restarts_total{server, reason="crash"} of this process."""
    labels = {"server": server, "reason": "crash"}
    samples = [sample for metric in lsp_metrics.RESTARTS.collect() for sample in metric.samples]
    return next((sample.value for sample in samples if sample.name.endswith("_total") and sample.labels == labels), 0)


def messages_of(diagnostics) -> str:
    return " | ".join(diagnostic["message"] for diagnostic in diagnostics)


# What the servers do through the bridge ------------------------------------------------------------


async def test_pyright_reports_a_type_error_hovers_and_completes(open_lsp, personas):
    lsp = await open_lsp(personas.editor)
    initialized = await lsp.initialize()
    source = TYPE_ERROR + "import os\nos.pa\n"
    uri = await lsp.open("main.py", source)

    diagnostics = await lsp.diagnostics(uri, lambda items: any(d["severity"] == 1 for d in items))
    hover = await lsp.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}}
    )
    completion = await lsp.request(
        "textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 5}}
    )

    assert "hoverProvider" in initialized["result"]["capabilities"]
    error = next(d for d in diagnostics if d["severity"] == 1)
    assert "\"Literal['three']\"" in error["message"] or "three" in error["message"]
    assert error["range"]["start"]["line"] == 0
    assert "int" in str(hover["result"]["contents"])
    items = completion["result"]["items"] if isinstance(completion["result"], dict) else completion["result"]
    assert "path" in [item["label"] for item in items]


async def test_ruff_reports_an_unused_import_offers_a_fix_and_formats(open_lsp, personas):
    lsp = await open_lsp(personas.editor, "ruff")
    await lsp.initialize()
    uri = await lsp.open("tidy.py", "import os\nx=1\n")

    diagnostics = await lsp.diagnostics(uri, lambda items: any(d.get("code") == "F401" for d in items))
    unused = next(d for d in diagnostics if d.get("code") == "F401")
    actions = await lsp.request(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": unused["range"], "context": {"diagnostics": [unused]}},
    )
    formatting = await lsp.request(
        "textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}
    )

    assert any("os" in action["title"] for action in actions["result"])
    edits = formatting["result"]
    assert edits and "x = 1" in "".join(edit["newText"] for edit in edits)


async def test_no_frame_shows_a_host_path(open_lsp, personas, root):
    lsp = await open_lsp(personas.editor)
    await lsp.initialize()
    uri = await lsp.open("leak.py", "import os\nimport missing_module\nos.path.join\n")
    await lsp.diagnostics(uri, lambda items: len(items) > 0)
    definition = await lsp.request(
        "textDocument/definition", {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}}
    )

    targets = definition["result"] if isinstance(definition["result"], list) else [definition["result"]]
    assert targets and all(target.get("uri", target.get("targetUri", "")).startswith("file:///") for target in targets)
    host_paths = [str(root), str(django_settings.DATA_DIR), sys.base_prefix]
    leaks = [frame for frame in lsp.frames for host in host_paths if host in frame]
    assert leaks == []


async def test_a_uri_outside_the_workspace_is_refused_and_the_session_goes_on(open_lsp, personas):
    lsp = await open_lsp(personas.editor)
    await lsp.initialize()

    outside = await lsp.request(
        "textDocument/hover", {"textDocument": {"uri": "file:///etc/passwd"}, "position": {"line": 0, "character": 0}}
    )
    escape = await lsp.request(
        "textDocument/hover",
        {"textDocument": {"uri": "file:///workspace/../../etc/passwd"}, "position": {"line": 0, "character": 0}},
    )
    await lsp.communicator.send_to(text_data="this is not json")
    shutdown = await lsp.request("shutdown")
    await lsp.notify("exit")
    uri = await lsp.open("after.py", TYPE_ERROR)
    diagnostics = await lsp.diagnostics(uri, lambda items: len(items) > 0)

    assert "outside the workspace" in outside["error"]["message"]
    assert "outside the workspace" in escape["error"]["message"]
    assert shutdown["result"] is None
    assert any(m.get("method") == "window/logMessage" for m in lsp.messages)
    assert diagnostics


# Sessions: takeover, crash, restart ------------------------------------------------------------------------


async def test_a_second_socket_takes_over_and_gets_the_session_at_once(open_lsp, personas, manager):
    first = await open_lsp(personas.editor)
    await first.initialize()
    pid = next(iter(manager.sessions.values())).process.pid

    second = await open_lsp(personas.editor)
    reply = await second.request(
        "initialize", {"processId": None, "rootUri": "file:///workspace", "capabilities": {}}, timeout=5
    )
    await second.notify("initialized")
    uri = await second.open("again.py", TYPE_ERROR)
    diagnostics = await second.diagnostics(uri, lambda items: len(items) > 0)

    assert await first.expect_close() == REPLACED
    assert "capabilities" in reply["result"]
    assert diagnostics
    assert next(iter(manager.sessions.values())).process.pid == pid  # the same warm server


async def test_a_killed_server_closes_the_socket_with_4001_and_comes_back(open_lsp, personas, manager, settings):
    settings.LSP_BACKOFF_BASE_MS = 50
    lsp = await open_lsp(personas.editor)
    await lsp.initialize()
    session = next(iter(manager.sessions.values()))
    old_pid = session.process.pid

    crashes_before = crash_restarts("pyright")

    os.kill(old_pid, signal.SIGKILL)
    code = await lsp.expect_close()
    again = await open_lsp(personas.editor)
    await again.initialize()
    uri = await again.open("back.py", TYPE_ERROR)
    diagnostics = await again.diagnostics(uri, lambda items: len(items) > 0)

    assert code == RESTART
    assert diagnostics
    assert session.process.pid != old_pid
    assert session.restarts == 1
    assert session.last_exit_code == -signal.SIGKILL
    assert crash_restarts("pyright") == crashes_before + 1


async def test_a_server_that_keeps_crashing_backs_off_then_fails(open_lsp, personas, manager, settings):
    settings.LSP_RUFF_COMMAND = f"{sys.executable} -c 'import sys, time; time.sleep(0.2); sys.exit(3)'"
    settings.LSP_MAX_RESTARTS = 3
    settings.LSP_BACKOFF_BASE_MS = 100
    lsp = await open_lsp(personas.editor, "ruff")
    assert await lsp.expect_close() == RESTART
    session = next(iter(manager.sessions.values()))

    await asyncio.wait_for(session.failed.wait(), TIMEOUT)
    refused = await open_lsp(personas.editor, "ruff")
    code = await refused.expect_close()

    gaps = [later - earlier for earlier, later in zip(session.crash_times, list(session.crash_times)[1:], strict=False)]
    # Each wait is the backoff (100, 200, 400 ms, jittered to 50-100 %) plus the 0.2 s the server lives.
    assert session.restarts == 3 and len(session.crash_times) == 4
    assert all(gap >= 0.2 + 0.05 * 2**n for n, gap in enumerate(gaps))
    assert gaps[2] > gaps[0]
    assert code == FAILED
    assert session.last_exit_code == 3
    assert "restart it" in session.last_error


async def test_an_idle_session_shuts_its_server_down(open_lsp, personas, manager, settings):
    settings.LSP_IDLE_TTL = 1
    lsp = await open_lsp(personas.editor, "ruff")
    await lsp.initialize()
    session = next(iter(manager.sessions.values()))
    process = session.process

    await lsp.disconnect()
    await asyncio.wait_for(session.finished.wait(), 15)

    assert manager.sessions == {}
    assert not process.is_running()
    # The server's stderr went to its own log file.
    log = manager.log_path(session.workspace_id, session.user_id, "ruff")
    assert "Registering workspace" in log.read_text()


async def test_a_restart_request_is_audited_and_reconnects_the_client(open_lsp, personas, manager, api, workspace):
    lsp = await open_lsp(personas.editor, "ruff")
    await lsp.initialize()
    old_pid = next(iter(manager.sessions.values())).process.pid

    url = f"/api/v1/workspaces/{workspace.pk}/lsp/ruff/restart/"
    response = await sync_to_async(lambda: api.as_user(personas.editor).post(url))()
    code = await lsp.expect_close()

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "running"
    assert response.json()["pid"] != old_pid
    assert code == RESTART
    rows = await sync_to_async(list)(AuditLog.objects.filter(action="lsp.restart"))
    assert [(row.actor_id, row.metadata["server"]) for row in rows] == [(personas.editor.pk, "ruff")]


async def test_an_oversized_frame_is_dropped_with_a_message_and_the_session_goes_on(open_lsp, personas):
    lsp = await open_lsp(personas.editor, "ruff")
    await lsp.initialize()

    await lsp.communicator.send_to(text_data="x" * (MAX_TEXT_FRAME_BYTES + 1))
    await lsp.until(lambda: any(m.get("method") == "window/showMessage" for m in lsp.messages), what="a message")
    uri = await lsp.open("small.py", "import os\n")
    diagnostics = await lsp.diagnostics(uri, lambda items: len(items) > 0)

    notice = next(m for m in lsp.messages if m.get("method") == "window/showMessage")
    assert "limited to" in notice["params"]["message"]
    assert diagnostics


# Permissions ---------------------------------------------------------------------------------------------


async def test_it_refuses_a_socket_without_a_session(workspace, manager):
    communicator = connect_lsp(workspace.pk, "pyright", b"")

    connected, _ = await communicator.connect(timeout=TIMEOUT)

    assert not connected
    assert manager.sessions == {}


@pytest.mark.parametrize(("who", "server"), [("viewer", "pyright"), ("outsider", "pyright"), ("editor", "nope")])
async def test_it_refuses_before_accepting(open_lsp, personas, who, server, manager):
    refused = await open_lsp(getattr(personas, who), server, expect_accept=False)

    assert refused.refused[0]
    assert manager.sessions == {}


# The environment -----------------------------------------------------------------------------------------


async def test_pip_install_removes_the_missing_import_warning(open_lsp, personas, manager, root, workspace):
    await asyncio.to_thread(provision_workspace_venv, workspace.pk)
    wheel = build_wheel(root, "tinypkg")  # in the workspace: its processes see nothing else
    lsp = await open_lsp(personas.editor)
    await lsp.initialize()
    uri = await lsp.open("uses.py", "import tinypkg\n\nprint(tinypkg.VALUE)\n")
    before = await lsp.diagnostics(uri, lambda items: len(items) > 0)

    installed = await asyncio.to_thread(run_in_workspace, workspace.pk, "pip", "install", f"./{wheel.name}")
    assert installed.returncode == 0, installed.stderr
    assert await lsp.expect_close() == RESTART
    again = await open_lsp(personas.editor)
    await again.initialize()
    uri = await again.open("uses.py", "import tinypkg\n\nprint(tinypkg.VALUE)\n")
    after = await again.diagnostics(uri)

    assert "tinypkg" in messages_of(before) and before[0]["severity"] == 2  # a warning, as configured
    assert after == []
    assert (root / "pyrightconfig.json").is_file()


@pytest.mark.parametrize("server", ["pyright", "ruff"])
async def test_language_servers_run_inside_the_workspace_sandbox(open_lsp, personas, manager, server):
    status = sandbox_status()
    if status.sandbox is None:
        if os.environ.get("CI"):
            pytest.fail(f"no sandbox: {status.problem}")
        pytest.skip(f"no sandbox: {status.problem}")
    lsp = await open_lsp(personas.editor, server)
    await lsp.initialize()
    (session,) = manager.sessions.values()

    members = session_members(session.process.pid)
    namespaced = {}
    for pid in members:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                namespaced[pid] = [int(number) for number in line.split()[1:]]
    # pid 2 in its own pid namespace: the server, under bubblewrap's init.
    (server_pid,) = [pid for pid, numbers in namespaced.items() if numbers[1:] == [2]]
    assert Path(f"/proc/{server_pid}/uid_map").read_text().split()[0] == "1000"
    assert os.readlink(f"/proc/{server_pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    # Its view of the file system: the workspace at /workspace, and no platform data.
    seen = Path(f"/proc/{server_pid}/root")
    assert (seen / "workspace").is_dir() and not (seen / str(django_settings.DATA_DIR).lstrip("/")).exists()


async def test_site_admins_see_running_sessions_in_the_admin(open_lsp, personas, client):
    lsp = await open_lsp(personas.editor, "ruff")
    await lsp.initialize()

    def page_for(user):
        client.force_login(user)
        return client.get("/admin/language-servers/")

    admin_page = await sync_to_async(page_for)(personas.site_admin)
    auditor_page = await sync_to_async(page_for)(personas.auditor)

    assert admin_page.status_code == 200
    row = admin_page.content.decode().split("<tbody>")[1]
    assert "eddie" in row and "ruff" in row and "running" in row
    assert auditor_page.status_code == 403
