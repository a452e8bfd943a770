"""Open WebSockets lose (or change) access within a second of the change, through the real ASGI app.

Terminals, the runner and language servers are authorized at connect; these
tests change access while they are open (membership, role, deactivation,
sign-out, password, token revocation, a change nobody announced) and await
the notice and the close code (docs/protocols.md, "Access re-checks").
"""

import asyncio
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from lsp import manager as lsp_manager_module
from platform_core import access
from platform_core.asgi import application
from platform_core.close_codes import FORBIDDEN
from platform_core.models import User
from platform_core.services import do_create_api_token
from terminal import manager as terminal_manager_module
from terminal.runner import get_runner_manager
from tests import processes
from tests.conftest import PASSWORD, make_ready, wait_until
from tests.lsp_client import LanguageClient
from tests.test_terminal_consumer import Terminal
from workspaces import services
from workspaces.environment.testing import provision_workspace_venv
from workspaces.environment.watcher import EnvironmentWatcher
from workspaces.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE = 1.0  # seconds from the change to the close: the promise of docs/protocols.md
TIMEOUT = 15
HEADERS = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


class Browser:
    """One browser of one user: its own session cookie, and the sockets it opens."""

    def __init__(self, user):
        self.user = user
        self.client = Client()
        self.cookie: bytes | None = None

    async def sign_in(self) -> "Browser":
        await sync_to_async(self.client.force_login)(self.user)
        name = django_settings.SESSION_COOKIE_NAME
        self.cookie = f"{name}={self.client.cookies[name].value}".encode()
        return self

    def communicator(self, path: str) -> WebsocketCommunicator:
        return WebsocketCommunicator(application, path, headers=[*HEADERS, (b"cookie", self.cookie)])


class RunnerSocket:
    """A runner WebSocket that keeps every message it received."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.messages: list[dict] = []
        self.close_code: int | None = None

    async def next(self, timeout: float = TIMEOUT) -> None:
        event = await self.communicator.receive_output(timeout)
        if event["type"] == "websocket.close":
            self.close_code = event.get("code", 1000)
        else:
            self.messages.append(json.loads(event["text"]))

    async def expect_close(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while self.close_code is None:
            await self.next(max(0.01, deadline - time.monotonic()))
        return self.close_code


@pytest.fixture
async def watcher(monkeypatch):
    """A fresh access watcher on the test's event loop."""
    fresh = access.AccessWatcher()
    monkeypatch.setattr(access.WATCHER, "instance", fresh)
    yield fresh
    await fresh.close()


@pytest.fixture
async def terminals(monkeypatch):
    environment = EnvironmentWatcher(poll_interval=0.1)
    fresh = terminal_manager_module.TerminalManager(environment_watcher=environment)
    monkeypatch.setattr(terminal_manager_module.MANAGER, "instance", fresh)
    yield fresh
    await fresh.close_all()
    await environment.close()


@pytest.fixture
async def language_servers(monkeypatch):
    environment = EnvironmentWatcher(poll_interval=0.1)
    fresh = lsp_manager_module.LanguageServerManager(environment_watcher=environment)
    monkeypatch.setattr(lsp_manager_module.MANAGER, "instance", fresh)
    yield fresh
    await fresh.close_all()
    await environment.close()


@pytest.fixture
def workspace(personas):
    make_ready(personas.workspace)
    yield personas.workspace
    get_runner_manager().close_workspace(personas.workspace.pk).result(timeout=15)


@pytest.fixture
async def sockets(watcher, terminals, workspace):
    """Opens terminals, runners and language servers of a browser; disconnects what is still open at the end."""
    opened: list[WebsocketCommunicator] = []

    class Open:
        async def terminal(self, browser: Browser, name: str = "main") -> Terminal:
            terminal = Terminal(browser.communicator(f"/ws/workspaces/{workspace.pk}/terminals/{name}/"))
            connected, code = await terminal.connect()
            assert connected, f"refused with {code}"
            opened.append(terminal.communicator)
            await terminal.ready()
            return terminal

        async def runner(self, browser: Browser) -> RunnerSocket:
            runner = RunnerSocket(browser.communicator(f"/ws/workspaces/{workspace.pk}/runner/"))
            connected, code = await runner.communicator.connect(TIMEOUT)
            assert connected, f"refused with {code}"
            opened.append(runner.communicator)
            return runner

        async def language_server(self, browser: Browser, server: str = "ruff") -> LanguageClient:
            client = LanguageClient(browser.communicator(f"/ws/workspaces/{workspace.pk}/lsp/{server}/"))
            connected, code = await client.connect()
            assert connected, f"refused with {code}"
            opened.append(client.communicator)
            await client.initialize()  # attached to its session from here on
            return client

    yield Open()
    for communicator in opened:
        if not communicator.future.done():
            await communicator.disconnect(timeout=TIMEOUT)


def membership_of(user, workspace) -> Membership:
    return Membership.objects.get(user=user, workspace=workspace)


def change_role(user, workspace, role: str, acting_user) -> None:
    services.do_change_member_role(membership_of(user, workspace), role, acting_user=acting_user)


def remove_member(user, workspace, acting_user) -> None:
    services.do_remove_member(membership_of(user, workspace), acting_user=acting_user)


def notice(terminal: Terminal, code: str) -> dict:
    return next(message for message in terminal.messages if message.get("code") == code)


# Membership and roles -------------------------------------------------------------------------------


async def test_it_closes_a_removed_members_terminal_within_a_second_and_keeps_the_shell(
    sockets, personas, workspace, terminals
):
    owner = await sockets.terminal(await Browser(personas.owner).sign_in())
    editor = await sockets.terminal(await Browser(personas.editor).sign_in())
    await editor.run("echo started-by-the-editor")

    started = time.monotonic()
    await sync_to_async(remove_member)(personas.editor, workspace, personas.owner)
    code = await editor.expect_close(timeout=DEADLINE + 1)
    elapsed = time.monotonic() - started

    assert code == FORBIDDEN
    assert elapsed < DEADLINE, f"closed after {elapsed:.2f}s"
    revoked = notice(editor, "access_revoked")
    assert revoked["level"] == "error"
    assert "no longer have access" in revoked["message"]
    # Sessions own processes: the shell carries on for the owner.
    assert "__still_here__" in await owner.run("echo __still_here__")
    assert owner.close_code is None
    assert len(terminals.sessions) == 1


async def test_it_stops_a_removed_members_run_and_closes_the_runner_within_a_second(sockets, personas, workspace):
    root = await sync_to_async(provision_workspace_venv)(workspace.pk)
    runner = await sockets.runner(await Browser(personas.editor).sign_in())
    # The run holds a lock on a workspace file while it lives: the kernel drops
    # it when the process ends, which the test can see from outside any sandbox.
    program = (
        "import fcntl, time\nlock = open('run.lock', 'w')\nfcntl.flock(lock, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\nwhile True: time.sleep(0.05)"
    )
    await runner.communicator.send_json_to({"type": "run", "code": program})
    while not any(message.get("type") == "output" for message in runner.messages):
        await runner.next()
    lock_path = root.parent / "run.lock"
    assert not lock_released(lock_path)

    started = time.monotonic()
    await sync_to_async(remove_member)(personas.editor, workspace, personas.owner)
    code = await runner.expect_close(timeout=DEADLINE + 1)
    elapsed = time.monotonic() - started

    assert code == FORBIDDEN
    assert elapsed < DEADLINE, f"closed after {elapsed:.2f}s"
    error = runner.messages[-1]
    assert error["type"] == "error"
    assert error["code"] == "access_revoked"
    # The run the socket started is stopped (SIGINT; the runner reaps it).
    await asyncio.to_thread(wait_until, lambda: lock_released(lock_path), timeout=10, message="the run to end")


def lock_released(path: Path) -> bool:
    with path.open("a") as stream:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(stream, fcntl.LOCK_UN)
        return True


async def test_a_demoted_editor_keeps_watching_the_terminal_but_loses_runner_and_language_server(
    sockets, personas, workspace, language_servers
):
    browser = await Browser(personas.editor).sign_in()
    owner = await sockets.terminal(await Browser(personas.owner).sign_in())
    terminal = await sockets.terminal(browser)
    runner = await sockets.runner(browser)
    lsp = await sockets.language_server(browser, "ruff")

    started = time.monotonic()
    await sync_to_async(change_role)(personas.editor, workspace, Membership.Role.VIEWER, personas.owner)
    runner_code, lsp_code, _ = await asyncio.gather(
        runner.expect_close(timeout=DEADLINE + 1),
        lsp.expect_close(timeout=DEADLINE + 1),
        terminal.expect_message("notice", timeout=DEADLINE + 1, code="access_changed"),
    )
    elapsed = time.monotonic() - started

    assert elapsed < DEADLINE, f"took {elapsed:.2f}s"
    changed = notice(terminal, "access_changed")
    assert changed["readonly"] is True
    assert "read-only" in changed["message"]
    assert runner_code == FORBIDDEN
    assert runner.messages[-1]["code"] == "access_revoked"
    assert lsp_code == FORBIDDEN
    shown = [message for message in lsp.messages if message.get("method") == "window/showMessage"]
    assert shown and shown[-1]["params"]["type"] == 1
    assert "role in this workspace changed" in shown[-1]["params"]["message"]
    # The terminal stays open, read-only: input is refused with a notice, output still arrives.
    await terminal.send_input(b"echo __typed_by_a_viewer__\n")
    await terminal.expect_message("notice", code="read_only")
    since = len(terminal.output)
    await owner.run("echo __seen_by_the_viewer__")
    await terminal.expect_output("__seen_by_the_viewer__", since)
    assert terminal.close_code is None
    assert b"__typed_by_a_viewer__" not in bytes(owner.output)
    # The language server, the editor's own, is stopped.
    await asyncio.wait_for(asyncio.shield(_no_sessions(language_servers)), TIMEOUT)


async def _no_sessions(manager) -> None:
    while manager.sessions:
        session = next(iter(manager.sessions.values()))
        await session.finished.wait()


async def test_a_promoted_viewer_can_type_in_the_terminal_without_reconnecting(sockets, personas, workspace):
    await sockets.terminal(await Browser(personas.editor).sign_in())  # viewers cannot start a shell
    viewer = await sockets.terminal(await Browser(personas.viewer).sign_in())

    await sync_to_async(change_role)(personas.viewer, workspace, Membership.Role.EDITOR, personas.owner)
    changed = await viewer.expect_message("notice", timeout=DEADLINE + 1, code="access_changed")

    assert changed["readonly"] is False
    assert "__typed_after_promotion__" in await viewer.run("echo __typed_after_promotion__")


# Accounts and sessions -----------------------------------------------------------------------------------


async def test_deactivating_a_user_in_the_admin_closes_their_sockets(sockets, personas, workspace):
    editor = await Browser(personas.editor).sign_in()
    terminal = await sockets.terminal(editor)
    runner = await sockets.runner(editor)
    admin = Client()
    await sync_to_async(admin.force_login)(personas.site_admin)
    form = {
        "username": personas.editor.username,
        "first_name": "",
        "last_name": "",
        "email": personas.editor.email,
        "site_role": User.SiteRole.MEMBER,
        # "is_active" left out: the checkbox is cleared
    }

    started = time.monotonic()
    response = await sync_to_async(admin.post)(f"/admin/platform_core/user/{personas.editor.pk}/change/", form)
    codes = await asyncio.gather(terminal.expect_close(DEADLINE + 1), runner.expect_close(DEADLINE + 1))
    elapsed = time.monotonic() - started

    assert response.status_code == 302, response.content[:2000]
    assert codes == [FORBIDDEN, FORBIDDEN]
    assert elapsed < DEADLINE, f"closed after {elapsed:.2f}s"
    assert "deactivated" in notice(terminal, "access_revoked")["message"]
    assert "deactivated" in runner.messages[-1]["message"]


async def test_signing_out_closes_that_browsers_sockets_but_not_another_browsers(sockets, personas):
    laptop = await Browser(personas.editor).sign_in()
    desktop = await Browser(personas.editor).sign_in()
    laptop_terminal = await sockets.terminal(laptop)
    laptop_runner = await sockets.runner(laptop)
    desktop_terminal = await sockets.terminal(desktop)

    started = time.monotonic()
    response = await sync_to_async(laptop.client.post)("/accounts/logout/")
    codes = await asyncio.gather(laptop_terminal.expect_close(DEADLINE + 1), laptop_runner.expect_close(DEADLINE + 1))
    elapsed = time.monotonic() - started

    assert response.status_code == 302
    assert codes == [FORBIDDEN, FORBIDDEN]
    assert elapsed < DEADLINE, f"closed after {elapsed:.2f}s"
    assert notice(laptop_terminal, "access_revoked")["message"].startswith("You signed out.")
    assert "__desktop_still_works__" in await desktop_terminal.run("echo __desktop_still_works__")
    assert desktop_terminal.close_code is None


async def test_a_password_change_closes_the_other_browsers_sockets_only(sockets, personas, watcher):
    here = await Browser(personas.editor).sign_in()
    elsewhere = await Browser(personas.editor).sign_in()
    here_terminal = await sockets.terminal(here)
    elsewhere_terminal = await sockets.terminal(elsewhere)
    new_password = "a-brand-new-passphrase-42"

    started = time.monotonic()
    response = await sync_to_async(here.client.post)(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    code = await elsewhere_terminal.expect_close(DEADLINE + 1)
    elapsed = time.monotonic() - started

    assert response.status_code == 302, response.content[:2000]
    assert code == FORBIDDEN
    assert elapsed < DEADLINE, f"closed after {elapsed:.2f}s"
    assert "password was changed" in notice(elsewhere_terminal, "access_revoked")["message"]
    # The browser that changed it stays signed in under a new session key, and so do its sockets,
    # through this re-check and every later one.
    await watcher.recheck(list(watcher.sockets))
    assert "__still_signed_in__" in await here_terminal.run("echo __still_signed_in__")
    assert here_terminal.close_code is None
    assert await sync_to_async(lambda: here.client.get("/api/v1/workspaces/").status_code)() == 200


async def test_revoking_an_api_token_reaches_sockets_authenticated_by_it(sockets, personas, watcher, api):
    # No WebSocket authenticates with a token today (the browser session does);
    # a socket that did would register its token id, as this one does.
    token, _ = await sync_to_async(do_create_api_token)(personas.editor, "ci", 30)
    verdicts: asyncio.Queue = asyncio.Queue()

    async def apply(level, reason):
        verdicts.put_nowait((level, reason))

    token_socket = access.LiveSocket(
        kind="token-client",
        user_id=personas.editor.pk,
        session_key=None,
        token_id=token.pk,
        workspace_id=None,
        level="use",
        rights=lambda user: "use",
        apply=apply,
    )
    watcher.watch(token_socket, await watcher.start())
    terminal = await sockets.terminal(await Browser(personas.editor).sign_in())

    started = time.monotonic()
    response = await sync_to_async(lambda: api.as_user(personas.editor).delete(f"/api/v1/tokens/{token.pk}/"))()
    level, reason = await asyncio.wait_for(verdicts.get(), DEADLINE + 1)
    elapsed = time.monotonic() - started

    assert response.status_code == 204
    assert (level, reason) == (None, access.REASON_TOKEN_REVOKED)
    assert elapsed < DEADLINE, f"took {elapsed:.2f}s"
    # The user's session sockets do not depend on the token.
    assert "__session_socket__" in await terminal.run("echo __session_socket__")
    assert token_socket not in watcher.sockets


async def test_the_periodic_recheck_catches_a_change_nobody_announced(sockets, personas, settings):
    settings.ACCESS_RECHECK_SECONDS = 1
    terminal = await sockets.terminal(await Browser(personas.editor).sign_in())

    # A bulk update sends no signals: as if another process changed the row without a shared channel layer.
    started = time.monotonic()
    await sync_to_async(User.objects.filter(pk=personas.editor.pk).update)(is_active=False)
    code = await terminal.expect_close(timeout=5)
    elapsed = time.monotonic() - started

    assert code == FORBIDDEN
    assert "deactivated" in notice(terminal, "access_revoked")["message"]
    assert elapsed < 2 * settings.ACCESS_RECHECK_SECONDS + 0.5


# Across processes ------------------------------------------------------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs REDIS_URL (e.g. redis://127.0.0.1:6379/5): the in-memory channel layer does not cross processes",
)
async def test_a_change_made_in_another_process_closes_a_socket_of_this_one(sockets, personas, workspace):
    terminal = await sockets.terminal(await Browser(personas.editor).sign_in())
    membership = await sync_to_async(membership_of)(personas.editor, workspace)
    command = (
        "import time\n"
        "from workspaces import services\n"
        "from workspaces.models import Membership\n"
        f"membership = Membership.objects.select_related('workspace').get(pk={membership.pk})\n"
        "started = time.time()\n"
        "services.do_remove_member(membership, acting_user=membership.workspace.created_by)\n"
        "print('committed-at', started, flush=True)\n"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        command,
        cwd=processes.ROOT,
        env=processes.environment_for_test_database(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    code = await terminal.expect_close(timeout=60)
    closed_at = time.time()
    output, _ = await asyncio.wait_for(child.communicate(), 60)

    assert child.returncode == 0, output.decode()
    started = float(next(line for line in output.decode().splitlines() if line.startswith("committed-at")).split()[1])
    assert code == FORBIDDEN
    assert closed_at - started < DEADLINE, f"closed {closed_at - started:.2f}s after the change"
    assert notice(terminal, "access_revoked")
