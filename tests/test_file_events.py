"""The workspace events socket through the real ASGI app: real inotify, real files, real sandboxed shells.

Files change on disk (directly, or typed into a terminal session in the
workspace's sandbox) and the socket must report them within a second, batched;
it must never follow a link out of the workspace nor report the insides of
.git or the venv; roles, revocation and deletion must reach it
(docs/protocols.md, "/ws/workspaces/<id>/events/").
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from platform_core import access
from platform_core.asgi import application
from platform_core.close_codes import FORBIDDEN, NOT_FOUND, RESTART
from terminal import manager as terminal_manager_module
from tests import processes
from tests.conftest import make_ready
from tests.test_access_rechecks import HEADERS, Browser, change_role, remove_member
from tests.test_terminal_consumer import Terminal
from workspaces import file_events, services
from workspaces.environment.watcher import EnvironmentWatcher
from workspaces.models import Membership, Workspace
from workspaces.runtime import get_runtime
from workspaces.tree_watcher import BATCH_SECONDS, MAX_CHANGES_PER_BATCH

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 15
DEADLINE = 1.0  # seconds from a change on disk to its message: the promise of docs/protocols.md


class EventsSocket:
    """An events WebSocket that keeps every message it received."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.messages: list[dict] = []
        self.close_code: int | None = None

    async def connect(self) -> tuple[bool, object]:
        return await self.communicator.connect(timeout=TIMEOUT)

    async def next(self, timeout: float = TIMEOUT) -> None:
        event = await self.communicator.receive_output(timeout)
        if event["type"] == "websocket.close":
            self.close_code = event.get("code", 1000)
        else:
            self.messages.append(json.loads(event["text"]))

    async def until(self, predicate, what: str, timeout: float = TIMEOUT):
        deadline = time.monotonic() + timeout
        while not (found := predicate()):
            if self.close_code is not None:
                raise AssertionError(f"closed ({self.close_code}) while waiting for {what}: {self.messages[-5:]}")
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await self.next(remaining)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}: {self.messages[-5:]}") from None
        return found

    async def message(self, kind: str, timeout: float = TIMEOUT, **fields) -> dict:
        def found():
            return next(
                (m for m in self.messages if m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())),
                None,
            )

        return await self.until(found, f"a {kind} message {fields or ''}", timeout)

    def changes(self) -> list[dict]:
        return [change for m in self.messages if m.get("type") == "changes" for change in m["changes"]]

    async def change(self, path: str, change: str, timeout: float = TIMEOUT) -> dict:
        def found():
            return next((c for c in self.changes() if c["path"] == path and c["change"] == change), None)

        return await self.until(found, f"{change} {path}", timeout)

    async def expect_close(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while self.close_code is None:
            await self.next(max(0.01, deadline - time.monotonic()))
        return self.close_code

    async def send(self, frame: str) -> None:
        await self.communicator.send_to(text_data=frame)


@pytest.fixture
def batch_seconds() -> float:
    return BATCH_SECONDS  # the product's window; a test that needs a wider one overrides this fixture


@pytest.fixture
async def manager(monkeypatch, batch_seconds):
    """A fresh file events manager (with its own watcher thread) for each test."""
    fresh = file_events.FileEventsManager(batch_seconds=batch_seconds)
    monkeypatch.setattr(file_events.MANAGER, "instance", fresh)
    yield fresh
    await fresh.close_all()
    assert not fresh.watcher.running


@pytest.fixture
async def watcher(monkeypatch):
    """A fresh access watcher on the test's event loop."""
    fresh = access.AccessWatcher()
    monkeypatch.setattr(access.WATCHER, "instance", fresh)
    yield fresh
    await fresh.close()


@pytest.fixture
def workspace(personas) -> Workspace:
    make_ready(personas.workspace)
    return personas.workspace


@pytest.fixture
def root(workspace) -> Path:
    return get_runtime().root(workspace.pk)


@pytest.fixture
async def events(manager, watcher, workspace):
    """``await events(user)``: a ready events socket of ``user`` on the workspace; closed at the end."""
    opened: list[EventsSocket] = []

    async def open_(user, *, workspace_id=None, expect_ready=True) -> EventsSocket:
        browser = await Browser(user).sign_in()
        socket = EventsSocket(browser.communicator(f"/ws/workspaces/{workspace_id or workspace.pk}/events/"))
        connected, code = await socket.connect()
        assert connected, f"refused with {code}"
        opened.append(socket)
        if expect_ready:
            await socket.message("ready")
        return socket

    yield open_
    for socket in opened:
        if not socket.communicator.future.done():
            await socket.communicator.disconnect(timeout=TIMEOUT)


async def refused(user, workspace_id: int) -> bool:
    headers = list(HEADERS)
    if user is not None:
        headers.append((b"cookie", (await Browser(user).sign_in()).cookie))
    communicator = WebsocketCommunicator(application, f"/ws/workspaces/{workspace_id}/events/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    if connected:
        await communicator.disconnect()
    return not connected


# Changes on disk ------------------------------------------------------------------------------------------


async def test_it_reports_files_created_modified_renamed_and_deleted_within_a_second(events, personas, root):
    socket = await events(personas.editor)

    steps = [
        ("notes.txt", "added", lambda: (root / "notes.txt").write_text("one\n")),
        ("notes.txt", "modified", lambda: (root / "notes.txt").open("a").write("two\n")),
        ("renamed.txt", "added", lambda: (root / "notes.txt").rename(root / "renamed.txt")),
        ("pkg", "added", lambda: (root / "pkg").mkdir()),
        ("renamed.txt", "deleted", lambda: (root / "renamed.txt").unlink()),
        ("pkg", "deleted", lambda: (root / "pkg").rmdir()),
    ]
    for path, change, act in steps:
        started = time.monotonic()
        act()
        await socket.change(path, change)
        elapsed = time.monotonic() - started
        assert elapsed < DEADLINE, f"{change} {path} reported after {elapsed:.2f}s"

    assert {"path": "notes.txt", "change": "deleted", "kind": "file"} in socket.changes()  # the rename's other half
    assert {"path": "pkg", "change": "added", "kind": "directory"} in socket.changes()


async def test_it_reports_what_a_sandboxed_terminal_makes(events, personas, workspace, root, monkeypatch):
    environment = EnvironmentWatcher(poll_interval=0.1)
    terminals = terminal_manager_module.TerminalManager(environment_watcher=environment)
    monkeypatch.setattr(terminal_manager_module.MANAGER, "instance", terminals)
    (root / "app" / "models").mkdir(parents=True)
    socket = await events(personas.owner)
    browser = await Browser(personas.owner).sign_in()
    terminal = Terminal(browser.communicator(f"/ws/workspaces/{workspace.pk}/terminals/main/"))
    assert (await terminal.connect())[0]
    try:
        await terminal.ready()
        # Each step waits for what it must report; whatever of a step arrives
        # late nets with the next one's change of the same path.
        await terminal.run("touch app/__init__.py && echo x > app/models/user.py && mkdir newpkg")
        await socket.change("app/__init__.py", "added")
        await socket.change("app/models/user.py", "added")
        await socket.change("newpkg", "added")
        await terminal.run("echo y >> app/models/user.py")
        await socket.change("app/models/user.py", "modified")
        await terminal.run("mv app/__init__.py app/main.py && rm app/models/user.py")

        await socket.change("app/main.py", "added")
        await socket.change("app/__init__.py", "deleted")
        await socket.change("app/models/user.py", "deleted")
    finally:
        await terminal.disconnect()
        await terminals.close_all()
        await environment.close()


async def test_it_gathers_a_burst_of_changes_into_one_message(events, personas, root):
    socket = await events(personas.editor)

    for number in range(50):
        (root / f"file{number}.txt").write_text("x")
    await socket.change("file49.txt", "added")

    batches = [m for m in socket.messages if m["type"] == "changes"]
    assert len(batches) <= 3, f"{len(batches)} messages for 50 files"
    assert len(socket.changes()) == 50


async def test_a_save_through_a_temporary_file_is_one_change_of_the_saved_file(events, personas, root):
    (root / "main.py").write_text("print(1)\n")
    socket = await events(personas.editor)

    (root / ".main.py.tmp").write_text("print(2)\n")
    os.replace(root / ".main.py.tmp", root / "main.py")
    (root / "marker.txt").touch()
    await socket.change("marker.txt", "added")

    paths = [change["path"] for change in socket.changes()]
    assert "main.py" in paths
    assert ".main.py.tmp" not in paths


# A wide window: the test's own writes (on a loaded machine) must land in one batch.
@pytest.mark.parametrize("batch_seconds", [2.0])
async def test_a_flood_of_changes_becomes_one_resync(events, personas, root):
    socket = await events(personas.editor)

    # One process makes them all (as an unpacked archive would), quickly even on a busy machine.
    names = [f"many{number}" for number in range(MAX_CHANGES_PER_BATCH + 200)]
    touch = await asyncio.create_subprocess_exec("touch", *names, cwd=root)
    assert await touch.wait() == 0

    resync = await socket.message("resync")
    assert "changed at once" in resync["reason"]


# What is not reported -----------------------------------------------------------------------------------


async def test_it_never_follows_a_link_out_of_the_workspace(events, personas, root, tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (root / "before").symlink_to(outside)  # there when the watch starts
    socket = await events(personas.editor)
    (root / "after").symlink_to(outside)  # made while it runs
    await socket.change("after", "added")

    (outside / "deep" / "secret.txt").write_text("not the workspace's")
    (outside / "top.txt").write_text("not the workspace's")
    (root / "marker.txt").touch()
    await socket.change("marker.txt", "added")

    assert not [change for change in socket.changes() if "secret" in change["path"] or "top" in change["path"]]


async def test_it_does_not_report_the_insides_of_git_the_venv_or_the_platforms_files(events, personas, root):
    for folder in (".git/objects", ".venv/lib/site-packages", ".devbench/home", "src/__pycache__"):
        (root / folder).mkdir(parents=True)
    socket = await events(personas.editor)

    (root / ".git" / "objects" / "ab12").write_text("blob")
    (root / ".git" / "index").write_text("index")
    (root / ".venv" / "lib" / "site-packages" / "pkg.py").write_text("")
    (root / ".devbench" / "home" / ".bash_history").write_text("ls\n")
    (root / "src" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (root / "src" / "app.py").write_text("")
    await socket.change("src/app.py", "added")

    assert [change["path"] for change in socket.changes()] == ["src/app.py"]


async def test_it_says_when_a_workspace_has_more_folders_than_it_follows(events, personas, root, settings):
    settings.FILE_WATCH_MAX_DIRECTORIES = 3
    for name in ("a", "b", "c", "d"):
        (root / name).mkdir()

    socket = await events(personas.editor)

    limited = await socket.message("notice", code="watch_limited")
    assert "more than 3 folders" in limited["message"]
    (root / "top.txt").touch()
    await socket.change("top.txt", "added")  # the root itself is still followed


async def test_a_folder_that_cannot_be_watched_leaves_the_socket_for_the_other_messages(
    events, personas, workspace, root
):
    shutil.rmtree(root)  # ready in the database, its folder gone (an administrator's mistake)

    socket = await events(personas.owner)
    unavailable = await socket.message("notice", code="watch_unavailable")
    await sync_to_async(services.do_delete_workspace)(workspace, acting_user=personas.owner)

    assert socket.messages[0] == {"type": "ready", "can_edit": True, "watching": False}
    assert "Refresh" in unavailable["message"]
    assert str(root) not in unavailable["message"]
    assert await socket.expect_close() == NOT_FOUND
    assert socket.messages[-1]["type"] == "workspace_closed"


# Who may follow -------------------------------------------------------------------------------------------


async def test_viewers_follow_the_files_read_only_and_outsiders_are_refused(events, personas, root, workspace):
    viewer = await events(personas.viewer)
    editor = await events(personas.editor)

    assert viewer.messages[0] == {"type": "ready", "can_edit": False, "watching": True}
    assert editor.messages[0] == {"type": "ready", "can_edit": True, "watching": True}
    assert await refused(personas.outsider, workspace.pk)
    assert await refused(None, workspace.pk)
    assert await refused(personas.editor, workspace.pk + 1000)
    (root / "seen.txt").touch()
    await viewer.change("seen.txt", "added")


async def test_sockets_of_one_workspace_share_one_watch_that_ends_with_the_last(events, personas, manager, workspace):
    first = await events(personas.owner)
    second = await events(personas.viewer)
    assert manager.watcher.watched_workspaces() == {workspace.pk}

    await first.communicator.disconnect()
    assert manager.watcher.watched_workspaces() == {workspace.pk}
    await second.communicator.disconnect()

    deadline = time.monotonic() + TIMEOUT
    while manager.watcher.watched_workspaces():
        assert time.monotonic() < deadline, "the watch outlived its last socket"
        await asyncio.sleep(0.01)


async def test_it_answers_pings_and_refuses_anything_else(events, personas):
    socket = await events(personas.editor)

    await socket.send(json.dumps({"type": "ping"}))
    await socket.message("pong")
    await socket.send(json.dumps({"type": "subscribe", "path": "/etc"}))
    refusal = await socket.message("error", code="invalid_message")

    assert "ping" in refusal["message"]
    assert socket.close_code is None


async def test_a_workspace_that_is_not_ready_gets_a_notice_and_4004(events, personas, workspace):
    await sync_to_async(Workspace.objects.filter(pk=workspace.pk).update)(status=Workspace.Status.PROVISIONING)

    socket = await events(personas.editor, expect_ready=False)

    assert await socket.expect_close() == NOT_FOUND
    assert socket.messages[-1]["code"] == "workspace_not_ready"


# Access changes and deletion ----------------------------------------------------------------------------


async def test_removing_a_member_closes_their_events_socket_within_a_second(events, personas, workspace):
    editor = await events(personas.editor)
    owner = await events(personas.owner)

    started = time.monotonic()
    await sync_to_async(remove_member)(personas.editor, workspace, personas.owner)
    code = await editor.expect_close(timeout=DEADLINE + 1)
    elapsed = time.monotonic() - started

    assert code == FORBIDDEN
    assert elapsed < DEADLINE, f"closed after {elapsed:.2f}s"
    revoked = next(m for m in editor.messages if m.get("code") == "access_revoked")
    assert "no longer have access" in revoked["message"]
    assert owner.close_code is None


async def test_a_role_change_reaches_the_page_without_closing_it(events, personas, workspace):
    editor = await events(personas.editor)

    await sync_to_async(change_role)(personas.editor, workspace, Membership.Role.VIEWER, personas.owner)
    demoted = await editor.message("access_changed", timeout=DEADLINE + 1)
    await sync_to_async(change_role)(personas.editor, workspace, Membership.Role.EDITOR, personas.owner)
    promoted = await editor.message("access_changed", can_edit=True, timeout=DEADLINE + 1)

    assert demoted["can_edit"] is False
    assert "can no longer change its files" in demoted["message"]
    assert "can now change its files" in promoted["message"]
    assert editor.close_code is None


async def test_deleting_the_workspace_closes_every_events_socket_with_workspace_closed(events, personas, workspace):
    owner = await events(personas.owner)
    viewer = await events(personas.viewer)

    started = time.monotonic()
    await sync_to_async(services.do_delete_workspace)(workspace, acting_user=personas.owner)
    codes = [await owner.expect_close(), await viewer.expect_close()]
    elapsed = time.monotonic() - started

    assert codes == [NOT_FOUND, NOT_FOUND]
    assert elapsed < DEADLINE, f"closed after {elapsed:.2f}s"
    for socket in (owner, viewer):
        assert socket.messages[-1] == {"type": "workspace_closed", "message": "This workspace was deleted."}


async def test_a_workspace_deleted_by_another_process_closes_the_sockets_when_its_folder_goes(
    events, personas, workspace, root
):
    socket = await events(personas.owner)

    # Another process (no Redis: its signals do not reach this one) deletes the
    # workspace, and moves its files to the trash as the worker's task does.
    command = (
        "from workspaces import services\n"
        "from workspaces.models import Workspace\n"
        "from workspaces.runtime import get_runtime\n"
        f"workspace = Workspace.objects.get(pk={workspace.pk})\n"
        "services.do_delete_workspace(workspace, acting_user=workspace.created_by)\n"
        f"get_runtime().discard({workspace.pk})\n"
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
    output, _ = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 0, output.decode()

    assert await socket.expect_close() == NOT_FOUND
    assert socket.messages[-1] == {"type": "workspace_closed", "message": "This workspace was deleted."}


async def test_a_folder_moved_under_a_living_workspace_makes_the_page_reconnect(events, personas, root, tmp_path):
    socket = await events(personas.owner)

    shutil.move(root, tmp_path / "elsewhere")

    assert await socket.expect_close() == RESTART
    assert socket.messages[-1]["code"] == "watch_restarting"
