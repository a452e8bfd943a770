"""Terminal sessions over the real ASGI application, with real shells in real PTYs."""

import asyncio
import itertools
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from platform_core.asgi import application
from platform_core.models import AuditLog
from terminal import manager as manager_module
from terminal import metrics
from tests.conftest import make_ready
from workspaces.environment.attribution import UNKNOWN_ACTOR
from workspaces.environment.testing import build_wheel, provision_workspace_venv
from workspaces.environment.watcher import EnvironmentWatcher
from workspaces.models import Workspace
from workspaces.runtime import get_runtime
from workspaces.runtime.sandbox import sandbox_status
from workspaces.services import do_create_workspace

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 15
_markers = itertools.count(100)


def session_cookie(client, user) -> bytes:
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}".encode()


def unique_marker() -> tuple[str, str]:
    """(shell text, what it prints): the command line's echo never contains the printed form."""
    number = next(_markers)
    return f"__M_$(({number}+1))__", f"__M_{number + 1}__"


class Terminal:
    """A test client speaking the terminal protocol: acknowledges output unless told not to."""

    def __init__(self, communicator: WebsocketCommunicator, *, auto_ack: bool = True):
        self.communicator = communicator
        self.auto_ack = auto_ack
        self.output = bytearray()
        self.messages: list[dict] = []
        self.close_code: int | None = None

    async def connect(self) -> tuple[bool, object]:
        return await self.communicator.connect(timeout=TIMEOUT)

    async def _next(self, timeout: float = TIMEOUT) -> dict:
        event = await self.communicator.receive_output(timeout)
        if event["type"] == "websocket.close":
            self.close_code = event.get("code", 1000)
        elif event.get("bytes") is not None:
            self.output += event["bytes"]
            if self.auto_ack:
                await self.send_json({"type": "ack", "bytes": len(event["bytes"])})
        else:
            self.messages.append(json.loads(event["text"]))
        return event

    async def until(self, predicate, timeout: float = TIMEOUT, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.close_code is not None:
                raise AssertionError(f"closed ({self.close_code}) while waiting for {what}: {self.transcript()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}: {self.transcript()}")
            await self._next(remaining)

    def transcript(self) -> str:
        return f"messages={self.messages[-5:]} output=...{bytes(self.output[-400:])!r}"

    async def expect_output(self, text: str, since: int = 0, timeout: float = TIMEOUT) -> int:
        """Wait until ``text`` appears in the output after offset ``since``; its end offset."""
        needle = text.encode()
        await self.until(lambda: self.output.find(needle, since) >= 0, timeout, repr(text))
        return self.output.find(needle, since) + len(needle)

    async def expect_message(self, kind: str, timeout: float = TIMEOUT, **fields) -> dict:
        def found():
            return next(
                (m for m in self.messages if m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())),
                None,
            )

        await self.until(found, timeout, f"a {kind} message {fields or ''}")
        return found()

    async def expect_close(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while self.close_code is None:
            await self._next(max(0.01, deadline - time.monotonic()))
        return self.close_code

    async def ready(self) -> dict:
        return await self.expect_message("ready")

    async def send_json(self, message: dict) -> None:
        await self.communicator.send_to(text_data=json.dumps(message))

    async def send_input(self, data: bytes) -> None:
        await self.communicator.send_to(bytes_data=data)

    async def run(self, command: str) -> str:
        """Run ``command`` and wait until it has finished; its output (roughly)."""
        shell_text, printed = unique_marker()
        since = len(self.output)
        await self.send_input(f"{command}; echo {shell_text}\n".encode())
        end = await self.expect_output(printed, since)
        return self.output[since:end].decode("utf-8", "replace")

    async def disconnect(self) -> None:
        await self.communicator.disconnect(timeout=TIMEOUT)


@pytest.fixture
async def manager(monkeypatch):
    """A fresh terminal manager and environment watcher for each test (both live on the test's event loop)."""
    watcher = EnvironmentWatcher(poll_interval=0.1)
    fresh = manager_module.TerminalManager(environment_watcher=watcher)
    monkeypatch.setattr(manager_module.MANAGER, "instance", fresh)
    yield fresh
    await fresh.close_all()
    await watcher.close()


@pytest.fixture
def workspace(personas) -> Workspace:
    make_ready(personas.workspace)
    return personas.workspace


@pytest.fixture
async def open_terminal(client, personas, workspace, manager):
    """``await open_terminal(user, name)``: a connected Terminal (not yet ready-checked)."""
    cookies = {}
    opened = []

    async def open_(user, name="main", *, workspace_id=None, auto_ack=True, expect_accept=True):
        if user.pk not in cookies:
            cookies[user.pk] = await sync_to_async(session_cookie)(client, user)
        headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"), (b"cookie", cookies[user.pk])]
        path = f"/ws/workspaces/{workspace_id or workspace.pk}/terminals/{name}/"
        terminal = Terminal(WebsocketCommunicator(application, path, headers=headers), auto_ack=auto_ack)
        connected, code = await terminal.connect()
        if connected:
            opened.append(terminal)
        if expect_accept:
            assert connected, f"refused with {code}"
        else:
            terminal.refused = (not connected, code)
        return terminal

    yield open_
    for terminal in opened:
        if not terminal.communicator.future.done():
            await terminal.disconnect()


async def foreground_command_is(terminal: Terminal, session, command: str) -> None:
    """Until ``command`` runs in the foreground: a signal sent between the shell's fork and
    the command's exec lands in the shell's handlers and is lost, as on any terminal."""

    def current():
        group = session.process.foreground_process_group()
        try:
            return Path(f"/proc/{group}/comm").read_text().strip()
        except OSError:
            return None

    deadline = time.monotonic() + TIMEOUT
    while current() != command:
        assert time.monotonic() < deadline, f"{command} never ran: {terminal.transcript()}"
        await asyncio.sleep(0.01)


async def prompt(terminal: Terminal) -> None:
    await terminal.ready()
    await terminal.run("true")


# Basics ---------------------------------------------------------------------------------


# "auto" is the default (bubblewrap, on machines that have it); "off" runs the shell as the platform's user.
@pytest.mark.parametrize("sandbox", ["auto", "off"])
async def test_it_runs_commands_in_a_shell_in_the_workspace(open_terminal, personas, workspace, settings, sandbox):
    settings.WORKSPACE_SANDBOX = sandbox
    sandboxed = sandbox_status().sandbox is not None
    terminal = await open_terminal(personas.editor)

    ready = await terminal.ready()
    output = await terminal.run("echo __HELLO_$((6*7))__; pwd; id -u")

    assert set(ready) == {"type", "name", "readonly", "cols", "rows", "replayed"}
    assert (ready["name"], ready["readonly"], ready["cols"], ready["rows"]) == ("main", False, 80, 24)
    assert len(terminal.output) >= ready["replayed"]  # the shell may have printed its guide before we attached
    assert "__HELLO_42__" in output
    if sandboxed:
        assert "\r\n/workspace\r\n1000\r\n" in output
    else:
        assert f"\r\n{django_settings.WORKSPACES_ROOT}/ws-{workspace.pk}\r\n{os.getuid()}\r\n" in output
    await terminal.disconnect()


async def test_it_resizes_the_pty_to_the_clients_size(open_terminal, personas):
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)

    await terminal.send_json({"type": "resize", "cols": 100, "rows": 40})
    size = await terminal.expect_message("size")
    output = await terminal.run("stty size")

    assert size == {"type": "size", "cols": 100, "rows": 40}
    assert "40 100" in output
    await terminal.disconnect()


async def test_it_interrupts_the_foreground_command_with_ctrl_c(open_terminal, personas, manager):
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)
    await terminal.send_input(b"PS1='__P$((1+1))P__ '\n")
    await terminal.expect_output("__P2P__")
    await terminal.send_input(b"sleep 100\n")
    await foreground_command_is(terminal, manager.sessions[(personas.workspace.pk, "main")], "sleep")

    since = len(terminal.output)
    sent_at = time.monotonic()
    await terminal.send_input(b"\x03")
    await terminal.expect_output("__P2P__", since)
    elapsed = time.monotonic() - sent_at

    assert elapsed < 0.5
    assert "^C" in terminal.output[since:].decode()
    await terminal.disconnect()


async def test_it_sends_signals_to_the_foreground_process_group(open_terminal, personas, manager):
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)
    await terminal.send_input(b"sleep 100\n")
    await foreground_command_is(terminal, manager.sessions[(personas.workspace.pk, "main")], "sleep")

    await terminal.send_json({"type": "signal", "name": "SIGTERM"})
    output = await terminal.run("echo __STATUS_$?__")

    assert "__STATUS_143__" in output  # 128 + SIGTERM: sleep was terminated, the shell was not
    assert manager.sessions[(personas.workspace.pk, "main")].exit_code is None
    await terminal.disconnect()


async def test_it_reports_the_exit_code_once_then_closes(open_terminal, personas, manager):
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)

    await terminal.send_input(b"exit 3\n")
    code = await terminal.expect_close()

    exits = [message for message in terminal.messages if message["type"] == "exit"]
    assert exits == [{"type": "exit", "code": 3}]
    assert terminal.messages[-1] == {"type": "exit", "code": 3}
    assert code == 1000
    assert await terminal.communicator.receive_nothing(0.2)
    assert manager.sessions == {}
    await terminal.disconnect()


# Sharing and reconnecting -------------------------------------------------------------------


async def test_it_reattaches_to_the_same_shell_with_a_replay(open_terminal, personas):
    first = await open_terminal(personas.editor)
    await first.ready()
    shell_pid = (await first.run("echo __PID_$$__")).split("__PID_")[-1].split("__")[0]
    await first.disconnect()

    second = await open_terminal(personas.editor)
    ready = await second.ready()
    await second.expect_output(f"__PID_{shell_pid}__")  # from the replay
    since = len(second.output)
    again = await second.run("echo __PID_$$__")

    assert shell_pid.isdigit()
    assert ready["replayed"] > 0
    assert since >= ready["replayed"]
    assert f"__PID_{shell_pid}__" in again
    await second.disconnect()


async def test_it_shows_the_same_output_to_every_attached_client(open_terminal, personas):
    owner = await open_terminal(personas.owner, "pair")
    await prompt(owner)
    editor = await open_terminal(personas.editor, "pair")
    await editor.ready()

    text, printed = unique_marker()
    await owner.send_input(f"echo {text}\n".encode())

    await owner.expect_output(printed)
    await editor.expect_output(printed)
    await owner.disconnect()
    await editor.disconnect()


async def test_it_ends_the_shell_for_everyone_on_a_close_request(open_terminal, personas, manager):
    owner = await open_terminal(personas.owner, "shared")
    await prompt(owner)
    editor = await open_terminal(personas.editor, "shared")
    await editor.ready()
    await owner.run("sleep 300 & true")

    await editor.send_json({"type": "close"})
    codes = [await owner.expect_close(), await editor.expect_close()]

    assert codes == [1000, 1000]
    assert [m for m in owner.messages if m["type"] == "exit"]
    assert any(m.get("code") == "closed_by_user" for m in owner.messages if m["type"] == "notice")
    assert manager.sessions == {}
    await owner.disconnect()
    await editor.disconnect()


async def test_it_refuses_a_close_request_from_a_viewer(open_terminal, personas, manager):
    editor = await open_terminal(personas.editor, "watched")
    await prompt(editor)
    viewer = await open_terminal(personas.viewer, "watched")
    await viewer.ready()

    await viewer.send_json({"type": "close"})
    await viewer.expect_message("notice", code="read_only")
    output = await editor.run("echo still-here")

    assert "still-here" in output
    assert len(manager.sessions) == 1
    await viewer.disconnect()
    await editor.disconnect()


async def test_it_lets_viewers_watch_but_not_type_or_resize(open_terminal, personas):
    editor = await open_terminal(personas.editor, "shared")
    await prompt(editor)
    viewer = await open_terminal(personas.viewer, "shared")
    ready = await viewer.ready()

    await viewer.send_input(b"echo __VIEWER_$((5*5))__\n")
    notice = await viewer.expect_message("notice", code="read_only")
    await viewer.send_json({"type": "resize", "cols": 30, "rows": 10})
    await viewer.send_json({"type": "signal", "name": "SIGKILL"})
    output = await editor.run("stty size")
    text, printed = unique_marker()
    await editor.send_input(f"echo {text}\n".encode())
    await viewer.expect_output(printed)

    assert ready["readonly"] is True
    assert notice["level"] == "warning"
    assert len([m for m in viewer.messages if m["type"] == "notice"]) == 1
    assert "24 80" in output
    assert b"VIEWER" not in editor.output
    assert not [m for m in editor.messages if m["type"] == "size"]
    await viewer.disconnect()
    await editor.disconnect()


async def test_it_does_not_start_a_terminal_for_a_viewer(open_terminal, personas, manager):
    viewer = await open_terminal(personas.viewer, "fresh")

    notice = await viewer.expect_message("notice")
    code = await viewer.expect_close()

    assert (notice["code"], code) == ("no_such_terminal", 4004)
    assert manager.sessions == {}


async def test_it_refuses_outsiders_and_anonymous_users_before_accepting(open_terminal, personas, manager):
    outsider = await open_terminal(personas.outsider, expect_accept=False)
    anonymous = Terminal(
        WebsocketCommunicator(
            application,
            f"/ws/workspaces/{personas.workspace.pk}/terminals/main/",
            headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")],
        )
    )
    anonymous_connected, _ = await anonymous.connect()
    bad_name = await open_terminal(personas.editor, "no.dots", expect_accept=False)
    missing = await open_terminal(personas.editor, workspace_id=999999, expect_accept=False)

    assert outsider.refused[0]
    assert not anonymous_connected
    assert bad_name.refused[0]
    assert missing.refused[0]
    assert manager.sessions == {}


async def test_it_closes_with_4004_while_the_workspace_is_not_ready(open_terminal, personas, manager):
    await sync_to_async(Workspace.objects.filter(pk=personas.workspace.pk).update)(status=Workspace.Status.PROVISIONING)
    terminal = await open_terminal(personas.editor)

    notice = await terminal.expect_message("notice")
    code = await terminal.expect_close()

    assert (notice["code"], notice["level"], code) == ("workspace_not_ready", "error", 4004)
    assert "provisioning" in notice["message"]
    assert manager.sessions == {}


async def test_it_closes_with_1011_when_the_shell_cannot_start(open_terminal, personas, workspace, manager):
    shutil.rmtree(Path(django_settings.WORKSPACES_ROOT) / f"ws-{workspace.pk}")
    terminal = await open_terminal(personas.editor)

    notice = await terminal.expect_message("notice")
    code = await terminal.expect_close()

    assert (notice["code"], code) == ("terminal_unavailable", 1011)
    assert "reprovision" in notice["message"]
    assert manager.sessions == {}


# Limits and lifetime -----------------------------------------------------------------------------


async def test_it_enforces_terminal_limits_per_user_and_per_workspace(open_terminal, personas, manager, settings):
    settings.TERMINAL_MAX_PER_USER = 2
    settings.TERMINAL_MAX_PER_WORKSPACE = 3
    first = await open_terminal(personas.editor, "one")
    await first.ready()
    second = await open_terminal(personas.editor, "two")
    await second.ready()

    third = await open_terminal(personas.editor, "three")
    user_notice = await third.expect_message("notice")
    user_code = await third.expect_close()
    rejoin = await open_terminal(personas.editor, "one")  # attaching is not starting
    await rejoin.ready()
    owners = await open_terminal(personas.owner, "owners")
    await owners.ready()
    fourth = await open_terminal(personas.owner, "four")
    workspace_notice = await fourth.expect_message("notice")
    workspace_code = await fourth.expect_close()

    assert (user_notice["code"], user_code) == ("limit_reached", 4008)
    assert "per person" in user_notice["message"]
    assert (workspace_notice["code"], workspace_code) == ("limit_reached", 4008)
    assert "workspace" in workspace_notice["message"]
    assert sorted(name for _, name in manager.sessions) == ["one", "owners", "two"]


async def test_it_closes_a_detached_session_after_the_grace_period(open_terminal, personas, manager, settings):
    settings.TERMINAL_GRACE_SECONDS = 0.3
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)
    session = manager.sessions[(personas.workspace.pk, "main")]

    await terminal.disconnect()
    await asyncio.wait_for(session.finished.wait(), TIMEOUT)

    assert session.outcome == "grace_expired"
    assert manager.sessions == {}


async def test_it_keeps_a_session_reattached_within_the_grace_period(open_terminal, personas, manager, settings):
    settings.TERMINAL_GRACE_SECONDS = 0.5
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)
    session = manager.sessions[(personas.workspace.pk, "main")]
    await terminal.disconnect()

    again = await open_terminal(personas.editor)
    await again.ready()
    await again.run("sleep 0.8")  # longer than the grace period

    assert manager.sessions[(personas.workspace.pk, "main")] is session
    assert not session.is_finished
    await again.disconnect()


async def test_it_culls_idle_sessions_but_not_busy_ones(open_terminal, personas, manager, settings):
    settings.TERMINAL_IDLE_SECONDS = 0.6
    busy = await open_terminal(personas.editor, "busy")
    await prompt(busy)
    await busy.send_input(b"sleep 100\n")
    await foreground_command_is(busy, manager.sessions[(personas.workspace.pk, "busy")], "sleep")
    idle = await open_terminal(personas.editor, "idle")

    notice = await idle.expect_message("notice", code="idle")
    exit_message = await idle.expect_message("exit")
    code = await idle.expect_close()

    assert "without activity" in notice["message"]
    assert exit_message["code"] < 0 or exit_message["code"] > 0
    assert code == 1000
    assert not manager.sessions[(personas.workspace.pk, "busy")].is_finished
    await busy.disconnect()


async def test_it_closes_the_terminals_of_a_deleted_workspace(open_terminal, personas, manager):
    from workspaces.services import do_delete_workspace

    terminal = await open_terminal(personas.editor)
    await prompt(terminal)

    await sync_to_async(do_delete_workspace)(personas.workspace, acting_user=personas.owner)
    notice = await terminal.expect_message("notice", code="workspace_closed")
    code = await terminal.expect_close()

    assert "deleted" in notice["message"]
    assert code == 4004
    assert manager.sessions == {}


async def test_pip_install_in_the_terminal_tells_every_client_that_packages_changed(
    open_terminal, personas, workspace, manager, tmp_path
):
    venv = await asyncio.to_thread(provision_workspace_venv, workspace.pk)
    wheel = await asyncio.to_thread(build_wheel, venv.parent)  # inside the workspace: the shell sees nothing else
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)
    watcher = await open_terminal(personas.owner)
    await watcher.ready()

    await terminal.run(f"pip install --no-index --quiet ./{wheel.name}")
    changed = await watcher.expect_message("environment_changed")
    await terminal.expect_message("environment_changed")
    logs = await terminal.run("devbench-env logs")

    assert changed["updated_at"]
    assert "tinypkg" in logs
    await terminal.disconnect()
    await watcher.disconnect()


async def test_it_broadcasts_environment_changes_to_every_terminal_of_the_workspace(open_terminal, personas, manager):
    first = await open_terminal(personas.editor, "a")
    await first.ready()
    second = await open_terminal(personas.owner, "b")
    await second.ready()

    # The environment watcher may call from another thread.
    await asyncio.to_thread(manager.notify_environment_changed, personas.workspace.pk, "2025-01-02T03:04:05Z")

    for terminal in (first, second):
        message = await terminal.expect_message("environment_changed")
        assert message == {"type": "environment_changed", "updated_at": "2025-01-02T03:04:05Z"}
    await first.disconnect()
    await second.disconnect()


# Protocol errors ---------------------------------------------------------------------------------


async def test_it_answers_invalid_control_messages_with_a_notice_and_carries_on(open_terminal, personas):
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)
    invalid = [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"type": "explode"}),
        json.dumps({"type": "resize", "cols": 0, "rows": 24}),
        json.dumps({"type": "resize", "cols": 100000, "rows": 24}),
        json.dumps({"type": "resize", "cols": "80", "rows": 24}),
        json.dumps({"type": "signal", "name": "SIGSEGV"}),
        json.dumps({"type": "ack", "bytes": -5}),
        json.dumps({"type": "ping", "extra": 1}),
        json.dumps({"type": "ping", "pad": "x" * 70_000}),
    ]

    for text in invalid:
        await terminal.communicator.send_to(text_data=text)
    await terminal.send_input(b"y" * (1024 * 1024 + 1))
    await terminal.until(
        lambda: len([m for m in terminal.messages if m["type"] == "notice"]) == len(invalid) + 1, what="notices"
    )
    await terminal.send_json({"type": "ping"})
    pong = await terminal.expect_message("pong")
    output = await terminal.run("echo __STILL_$((2*21))__")

    notices = [m for m in terminal.messages if m["type"] == "notice"]
    assert all(notice["level"] == "error" for notice in notices)
    assert [n["code"] for n in notices].count("too_large") == 2
    assert pong == {"type": "pong"}
    assert "__STILL_42__" in output
    await terminal.disconnect()


# Environment of the shell ---------------------------------------------------------------------------


async def test_the_shell_runs_in_the_workspace_venv_without_platform_secrets(
    open_terminal, personas, workspace, monkeypatch
):
    monkeypatch.setenv("SECRET_KEY", "platform-secret-value")
    monkeypatch.setenv("DATABASE_URL", "postgres://platform:secret@db/platform")
    root = Path(django_settings.WORKSPACES_ROOT) / f"ws-{workspace.pk}"
    seen_as = get_runtime().process_root(workspace.pk)
    await asyncio.to_thread(provision_workspace_venv, workspace.pk)
    terminal = await open_terminal(personas.editor)
    await terminal.ready()

    guide = await terminal.expect_output("restart-runner")
    output = await terminal.run(
        'echo "__VENV_${VIRTUAL_ENV}__"; echo "__PIP_$(which pip)__"; echo "__HOME_${HOME}__"; '
        "echo __SECRETS_$(env | grep -c -E '^(SECRET_KEY|DATABASE_URL)=')__"
    )

    assert "(.venv)" in terminal.output.decode()
    assert "Team project" in terminal.output[:guide].decode()
    assert f"__VENV_{seen_as}/.venv__" in output
    assert f"__PIP_{seen_as}/.venv/bin/pip__" in output
    assert f"__HOME_{seen_as}/.devbench/home__" in output
    assert "__SECRETS_0__" in output
    assert (root / ".devbench" / "bashrc").is_file()
    await terminal.disconnect()


# The sandbox ----------------------------------------------------------------------------------------


@pytest.fixture
def sandboxed():
    """Skip (or, in CI, fail) where bubblewrap cannot run: these tests are about what it confines."""
    status = sandbox_status()
    if status.sandbox is None:
        if os.environ.get("CI"):
            pytest.fail(f"no sandbox: {status.problem}")
        pytest.skip(f"no sandbox: {status.problem}")
    return status.sandbox


def probe(command: str, label: str) -> str:
    """Shell text that prints __<label>_OK__ when ``command`` succeeds and __<label>_NO__ when it fails."""
    return f"if {command} >/dev/null 2>&1; then echo __{label}_O''K__; else echo __{label}_N''O__; fi"


async def test_a_sandboxed_shell_reaches_neither_other_workspaces_nor_the_platform(
    open_terminal, personas, workspace, sandboxed
):
    from django.db import connection

    other = await sync_to_async(do_create_workspace)("Other team", acting_user=personas.outsider)
    other_root = await sync_to_async(make_ready)(other)
    (other_root / "secret.txt").write_text("another team's secret")
    # The SQLite file; on Postgres the data directory stands in (DATA_DIR is probed below anyway).
    database = Path(connection.settings_dict["NAME"]) if connection.vendor == "sqlite" else django_settings.DATA_DIR
    assert database.exists()
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)

    output = await terminal.run(
        "; ".join(
            [
                probe(f"cat {other_root}/secret.txt", "OTHER"),
                probe("cat /workspace/../ws-2/secret.txt", "RELATIVE"),
                probe(f"ls {django_settings.WORKSPACES_ROOT}", "ALL_WORKSPACES"),
                probe(f"head -c 16 {database}", "DATABASE"),
                probe(f"ls {django_settings.DATA_DIR}", "DATA_DIR"),
                probe(f"cat /proc/{os.getpid()}/environ", "SERVER_ENVIRON"),
                probe("cat /etc/shadow", "SHADOW"),
                probe("touch /usr/written", "WRITE_USR"),
                probe("touch /etc/written", "WRITE_ETC"),
                probe("touch /tmp/written /workspace/written", "WRITE_OWN"),
                "echo \"__PIDS_$(ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' ')__\"",
                "echo \"__INIT_ENV_$(tr '\\0' '\\n' < /proc/1/environ | cut -d= -f1 | sort | tr '\\n' ' ')__\"",
                'echo "__WHO_$(id -u)_$(pwd)__"',
            ]
        )
    )

    for label in ("OTHER", "RELATIVE", "ALL_WORKSPACES", "DATABASE", "DATA_DIR", "SERVER_ENVIRON", "SHADOW"):
        assert f"__{label}_NO__" in output, (label, output)
    assert "__WRITE_USR_NO__" in output and "__WRITE_ETC_NO__" in output and "__WRITE_OWN_OK__" in output
    assert "__WHO_1000_/workspace__" in output
    # Only the sandbox's own processes: its init, the shell, the command substitution's pipeline.
    pids = [int(pid) for pid in output.rsplit("__PIDS_", 1)[1].split("__")[0].split()]
    assert pids[0] == 1 and max(pids) < 100 and os.getpid() not in pids, pids
    # Its pid 1 is bubblewrap's init, started with exactly the shell's environment: nothing of the platform's.
    names = set(output.rsplit("__INIT_ENV_", 1)[1].split("__")[0].split())
    allowed = {"PATH", "HOME", "TERM", "COLORTERM", "LANG", "TZ", "SHELL", "DEVBENCH_TERMINAL_SESSION"}
    assert names and all(name in allowed or name.startswith(("LC_", "DEVBENCH_WORKSPACE_")) for name in names), names
    assert (other_root / "secret.txt").read_text() == "another team's secret"
    await terminal.disconnect()


async def test_pip_install_in_a_sandboxed_terminal_is_audited_as_the_person_who_ran_it(
    open_terminal, personas, workspace, manager, sandboxed
):
    venv = await asyncio.to_thread(provision_workspace_venv, workspace.pk)
    wheel = await asyncio.to_thread(build_wheel, venv.parent)
    editor = await open_terminal(personas.editor, "editor")
    await prompt(editor)
    owner = await open_terminal(personas.owner, "owner")
    await prompt(owner)

    installed = await editor.run(f"pip install --no-index ./{wheel.name}; echo __PIP_EXIT_$?__")
    removed = await owner.run("pip uninstall -y tinypkg; echo __PIP_EXIT_$?__")
    # The editor takes the owner's session id from the owner's log and signs a log for it with its own key.
    await editor.run(
        'python -c "import glob, hashlib, hmac, json, os; '
        "name = '20990101T000000.000000Z-1.json'; "
        "log = json.load(open(sorted(glob.glob('.pip-logs/*.json'))[-1])); "
        "log['command'] = ['pip', 'install', 'forged']; "
        "key = os.environ['DEVBENCH_TERMINAL_SESSION'].split(':')[1]; "
        "fields = json.dumps([log['command'], log['exit_code'], log['started_at']], separators=(',', ':')); "
        "log['signature'] = hmac.new(key.encode(), (name + '\\n' + fields).encode(), hashlib.sha256).hexdigest(); "
        "json.dump(log, open('.pip-logs/' + name, 'w'))\""
    )

    def pip_rows():
        return list(AuditLog.objects.filter(action="pip.run", workspace_id=workspace.pk).order_by("id"))

    rows = []
    deadline = time.monotonic() + TIMEOUT
    while len(rows) < 3 and time.monotonic() < deadline:
        await manager.environment_watcher.poll_once()
        rows = await sync_to_async(pip_rows)()
    by_command = {" ".join(row.metadata["command"]): row for row in rows}

    assert "__PIP_EXIT_0__" in installed and "Successfully installed tinypkg-1.0" in installed
    assert "__PIP_EXIT_0__" in removed
    assert len(rows) == 3, [row.metadata for row in rows]
    install = by_command[f"pip install --no-index ./{wheel.name}"]
    uninstall = by_command["pip uninstall -y tinypkg"]
    assert (install.actor_id, install.actor_username) == (personas.editor.pk, "eddie")
    assert (uninstall.actor_id, uninstall.actor_username) == (personas.owner.pk, "olivia")
    forged = by_command["pip install forged"]
    forged_log = json.loads((venv.parent / ".pip-logs" / "20990101T000000.000000Z-1.json").read_text())
    assert forged_log["terminal_session"] == uninstall.metadata["terminal_session"]  # the owner's, really
    assert (forged.actor_id, forged.actor_username) == (None, UNKNOWN_ACTOR)
    await editor.disconnect()
    await owner.disconnect()


# Audit ---------------------------------------------------------------------------------------------


async def test_it_audits_opening_and_closing_without_keystrokes_or_output(open_terminal, personas, manager):
    terminal = await open_terminal(personas.editor, "audited")
    await prompt(terminal)
    await terminal.run("echo typed-secret-words")
    await terminal.send_input(b"exit 0\n")
    await terminal.expect_close()
    await manager.close_all()  # waits for the audit rows written in the background

    rows = await sync_to_async(list)(AuditLog.objects.filter(action__startswith="terminal.").order_by("id"))

    assert [row.action for row in rows] == ["terminal.open", "terminal.close"]
    assert all(row.actor_id == personas.editor.pk and row.workspace_id == personas.workspace.pk for row in rows)
    assert rows[0].metadata == {"name": "audited", "readonly": False, "session": rows[0].metadata["session"]}
    assert len(rows[0].metadata["session"]) == 32  # the public id its pip calls are credited by
    assert rows[1].metadata["exit_code"] == 0
    assert rows[1].metadata["outcome"] == "exited"
    assert rows[1].metadata["duration_seconds"] >= 0
    assert not any("typed-secret" in json.dumps([row.metadata, row.changes]) for row in rows)


def sample(name: str, **labels) -> float:
    """A terminal metric's current value (read from the metric objects: the registry's
    database collector must not run on the event loop)."""
    for metric in (
        metrics.TERMINALS_RUNNING,
        metrics.TERMINAL_CLIENTS,
        metrics.TERMINAL_OUTPUT_BYTES,
        metrics.TERMINAL_SESSIONS,
    ):
        for family in metric.collect():
            for found in family.samples:
                if found.name == name and found.labels == labels:
                    return found.value
    return 0.0


async def test_it_counts_sessions_clients_and_output_in_metrics(open_terminal, personas):
    running, clients = sample("devbench_terminals_running"), sample("devbench_terminal_clients_attached")
    output_bytes = sample("devbench_terminal_output_bytes_total")
    exited = sample("devbench_terminal_sessions_total", outcome="exited")
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)

    during = (sample("devbench_terminals_running"), sample("devbench_terminal_clients_attached"))
    await terminal.send_input(b"exit\n")
    await terminal.expect_close()

    assert during == (running + 1, clients + 1)
    assert sample("devbench_terminal_output_bytes_total") > output_bytes
    assert sample("devbench_terminal_sessions_total", outcome="exited") == exited + 1
    assert (sample("devbench_terminals_running"), sample("devbench_terminal_clients_attached")) == (running, clients)


# Flow control and resources --------------------------------------------------------------------------


def resident_memory_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def test_a_client_that_does_not_acknowledge_pauses_the_shell(open_terminal, personas, manager, settings):
    terminal = await open_terminal(personas.editor, "flood", auto_ack=False)
    await prompt(terminal)
    session = manager.sessions[(personas.workspace.pk, "flood")]
    client = session.clients[0]
    high = settings.TERMINAL_FLOW_HIGH_BYTES
    memory_before = resident_memory_bytes()

    await terminal.send_input(b"yes | head -c 50000000\n")
    await terminal.until(lambda: session.paused, what="the session to pause")
    while not await terminal.communicator.receive_nothing(0.05):  # frames already on their way
        await terminal._next()
    received = len(terminal.output)

    assert await terminal.communicator.receive_nothing(0.5)  # paused: nothing more is read or sent
    assert session.paused
    assert session.process.is_running()
    assert high < client.unacked <= high + 64 * 1024
    assert received <= high + 2 * 64 * 1024
    assert resident_memory_bytes() - memory_before < 50 * 1024 * 1024

    # Acknowledging resumes it: interrupt the flood and see the prompt again.
    terminal.auto_ack = True
    await terminal.send_json({"type": "signal", "name": "SIGINT"})
    await terminal.send_json({"type": "ack", "bytes": client.unacked})
    output = await terminal.run("echo __RESUMED_$((3+4))__")
    assert "__RESUMED_7__" in output
    await terminal.disconnect()


async def test_it_streams_large_output_to_a_client_that_acknowledges(open_terminal, personas):
    terminal = await open_terminal(personas.editor)
    await prompt(terminal)

    output = await terminal.run("head -c 2000000 /dev/zero | tr '\\0' x")

    assert output.count("x") >= 2_000_000
    await terminal.disconnect()


async def test_it_closes_a_stuck_client_with_4001(open_terminal, personas, manager, settings):
    settings.TERMINAL_STUCK_CLIENT_SECONDS = 0.3
    terminal = await open_terminal(personas.editor, "stuck", auto_ack=False)
    await prompt(terminal)

    await terminal.send_input(b"yes | head -c 3000000; echo __FLOOD_$((1+1))__\n")
    notice = await terminal.expect_message("notice", code="stuck")
    code = await terminal.expect_close()
    again = await open_terminal(personas.editor, "stuck")
    await again.ready()
    output = await again.run("echo __BACK_$((4+4))__")

    assert notice["level"] == "error"
    assert code == 4001
    assert "__BACK_8__" in output
    await again.disconnect()


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def child_pids() -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(b")", 1)[1].split()[1]) == os.getpid():
                children.add(int(entry))
    return children


async def test_it_leaks_no_processes_or_descriptors_over_200_cycles(open_terminal, personas, manager):
    warm_up = await open_terminal(personas.editor, "cycle")
    await prompt(warm_up)
    await warm_up.disconnect()
    await manager.close_all()
    descriptors_before, children_before = open_descriptors(), child_pids()

    for _ in range(160):  # attach to / detach from one session
        terminal = await open_terminal(personas.editor, "cycle")
        await terminal.ready()
        await terminal.disconnect()
    for index in range(40):  # start a session, end it
        terminal = await open_terminal(personas.editor, f"c{index}")
        await terminal.ready()
        await terminal.send_input(b"exit\n")
        await terminal.expect_close()
        await terminal.disconnect()
    await manager.close_all()

    assert manager.sessions == {}
    assert child_pids() <= children_before
    assert open_descriptors() <= descriptors_before
