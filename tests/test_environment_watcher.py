"""The environment watcher: real pip subprocesses, a real event loop, real audit rows."""

import asyncio
import json
import os
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from platform_core.models import AuditLog
from terminal.services import record_terminal_open
from tests.conftest import make_ready
from workspaces.environment.attribution import UNKNOWN_ACTOR, new_terminal_credentials
from workspaces.environment.testing import build_wheel, create_workspace_venv, pip_environment
from workspaces.environment.watcher import (
    JSON_MAX_BYTES,
    KIND_PACKAGES,
    KIND_RUNNER_RESTART,
    EnvironmentWatcher,
    environment_stamp,
    get_environment_watcher,
    read_env_meta,
)
from workspaces.models import Workspace

EVENT_TIMEOUT_SECONDS = 20
POLL_INTERVAL_SECONDS = 0.05


@pytest.fixture(scope="module")
def workspace_files(tmp_path_factory):
    """One real workspace venv for the module; tests only add packages and logs."""
    base = tmp_path_factory.mktemp("environment-watcher")
    root = base / "ws"
    create_workspace_venv(root)
    return root, build_wheel(base)


@pytest.fixture
async def watcher():
    watcher = EnvironmentWatcher(poll_interval=POLL_INTERVAL_SECONDS)
    yield watcher
    await watcher.close()


class Events:
    """Subscriber that queues events so tests can await them."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()

    async def __call__(self, event):
        await self.queue.put(event)

    async def next(self):
        return await asyncio.wait_for(self.queue.get(), EVENT_TIMEOUT_SECONDS)


async def run(root: Path, program: str, *arguments: str, **extra_environment: str) -> int:
    process = await asyncio.create_subprocess_exec(
        str(root / ".venv" / "bin" / program),
        *arguments,
        env=pip_environment(**extra_environment),
        cwd=root,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 120)


@database_sync_to_async
def pip_rows(workspace_id: int) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action="pip.run", workspace_id=workspace_id).order_by("id"))


@pytest.mark.django_db(transaction=True)
async def test_it_announces_installed_packages_and_audits_each_pip_call(personas, workspace_files, watcher):
    root, wheel = workspace_files
    await database_sync_to_async(make_ready)(personas.workspace)
    workspace_id = personas.workspace.pk
    events = Events()
    watcher.subscribe(events, workspace_id=workspace_id)
    await watcher.watch(workspace_id, root)
    before = read_env_meta(root)["updated_at"]

    assert await run(root, "pip", "install", "--no-index", str(wheel)) == 0
    event = await events.next()

    assert event.workspace_id == workspace_id
    assert event.kind == KIND_PACKAGES
    assert event.updated_at == read_env_meta(root)["updated_at"] != before
    assert event.meta["packages"]["tinypkg"] == "1.0"

    exit_code = await run(root, "pip", "install", "--no-index", "doesnotexist")
    await watcher.poll_once()  # polls never overlap: once this returns, both logs were seen
    await watcher.poll_once()

    rows = await pip_rows(workspace_id)
    assert [row.metadata["command"] for row in rows] == [
        ["pip", "install", "--no-index", str(wheel)],
        ["pip", "install", "--no-index", "doesnotexist"],
    ]
    assert [row.metadata["exit_code"] for row in rows] == [0, exit_code]
    assert exit_code != 0
    for row in rows:
        # No terminal session signed these logs: nobody is credited.
        assert row.actor is None and row.actor_username == UNKNOWN_ACTOR
        assert row.workspace_name == personas.workspace.name
        assert row.metadata["duration_seconds"] > 0
        assert "Successfully" not in json.dumps(row.metadata) and "No matching" not in json.dumps(row.metadata)
    assert events.queue.empty()  # a failing install changes nothing


@pytest.mark.django_db(transaction=True)
async def test_it_credits_a_pip_call_to_the_person_whose_terminal_session_signed_it(personas, workspace_files, watcher):
    root, _wheel = workspace_files
    workspace_id = personas.workspace.pk
    editor_session = new_terminal_credentials()
    await database_sync_to_async(record_terminal_open)(
        personas.editor, personas.workspace, name="main", readonly=False, session_id=editor_session.session_id
    )
    # Someone who read the editor's session id (it is in the logs) but not its key.
    forged = f"{editor_session.session_id}:{new_terminal_credentials().key}"
    await watcher.watch(workspace_id, root)

    assert await run(root, "pip", "--version", DEVBENCH_TERMINAL_SESSION=editor_session.environment_value) == 0
    assert await run(root, "pip", "list", DEVBENCH_TERMINAL_SESSION=forged) == 0
    assert await run(root, "pip", "help") == 0
    await watcher.poll_once()
    await watcher.poll_once()

    rows = {row.metadata["command"][1]: row for row in await pip_rows(workspace_id)}
    credited = rows["--version"]
    assert (credited.actor_id, credited.actor_username) == (personas.editor.pk, "eddie")
    assert credited.metadata["terminal_session"] == editor_session.session_id
    for unsigned in (rows["list"], rows["help"]):
        assert (unsigned.actor_id, unsigned.actor_username) == (None, UNKNOWN_ACTOR)
        assert unsigned.metadata["terminal_session"] is None
    log = json.loads(
        next(path for path in (root / ".pip-logs").glob("*.json") if "--version" in path.read_text()).read_text()
    )
    assert editor_session.key not in json.dumps(log)  # the logs are the workspace's to read: never the key


@pytest.mark.django_db(transaction=True)
async def test_two_platform_processes_write_one_row_per_pip_call(personas, workspace_files, watcher):
    root, _wheel = workspace_files
    workspace_id = personas.workspace.pk
    other_process = EnvironmentWatcher(poll_interval=POLL_INTERVAL_SECONDS)
    await watcher.watch(workspace_id, root)
    await other_process.watch(workspace_id, root)
    try:
        assert await run(root, "pip", "--version") == 0
        await asyncio.gather(watcher.poll_once(), other_process.poll_once())
        await asyncio.gather(watcher.poll_once(), other_process.poll_once())
    finally:
        await other_process.close()

    rows = await pip_rows(workspace_id)
    assert [row.metadata["command"] for row in rows] == [["pip", "--version"]]


async def test_it_announces_a_runner_restart_request(workspace_files, watcher):
    root, _wheel = workspace_files
    events = Events()
    watcher.subscribe(events)
    await watcher.watch(7, root)

    assert await run(root, "devbench-env", "restart-runner") == 0
    event = await events.next()

    assert event.kind == KIND_RUNNER_RESTART
    assert event.workspace_id == 7
    request = json.loads((root / ".devbench" / "runner-restart-requested").read_text())
    assert event.updated_at == request["requested_at"]
    assert event.meta == read_env_meta(root)


async def test_the_environment_stamp_changes_with_packages_and_restart_requests(workspace_files, tmp_path):
    root, _wheel = workspace_files
    assert environment_stamp(tmp_path) is None
    before = environment_stamp(root)

    assert await run(root, "devbench-env", "restart-runner") == 0
    after_request = environment_stamp(root)
    assert await run(root, "devbench-env", "refresh", "--force") == 0

    assert before != after_request != environment_stamp(root)
    assert environment_stamp(root).startswith(read_env_meta(root)["updated_at"])


async def test_watches_are_shared_and_stop_with_the_last_unwatch(workspace_files, watcher):
    root, _wheel = workspace_files
    events = Events()
    watcher.subscribe(events)
    await watcher.watch(7, root)
    await watcher.watch(7, root)
    assert watcher.watched() == {7: 2}

    await watcher.unwatch(7)
    assert await run(root, "devbench-env", "restart-runner") == 0
    assert (await events.next()).kind == KIND_RUNNER_RESTART

    await watcher.unwatch(7)
    assert watcher.watched() == {}
    assert await run(root, "devbench-env", "restart-runner") == 0
    await watcher.poll_once()
    assert events.queue.empty()

    # Watching again starts from the present: the request made meanwhile is old news.
    await watcher.watch(7, root)
    await watcher.poll_once()
    assert events.queue.empty()


async def test_unsubscribed_and_failing_callbacks_do_not_disturb_others(workspace_files, watcher):
    root, _wheel = workspace_files
    events = Events()
    other_workspace = Events()
    removed = Events()

    def broken(event):
        raise RuntimeError("subscriber bug")

    watcher.subscribe(broken)
    watcher.subscribe(events)
    watcher.subscribe(other_workspace, workspace_id=999)
    unsubscribe = watcher.subscribe(removed)
    unsubscribe()
    await watcher.watch(7, root)

    assert await run(root, "devbench-env", "restart-runner") == 0

    assert (await events.next()).kind == KIND_RUNNER_RESTART
    await watcher.poll_once()
    assert other_workspace.queue.empty() and removed.queue.empty()


@pytest.mark.django_db(transaction=True)
async def test_it_tolerates_a_workspace_deleted_meanwhile(personas, workspace_files, watcher):
    root, wheel = workspace_files
    workspace_id = personas.workspace.pk
    events = Events()
    watcher.subscribe(events)
    await watcher.watch(workspace_id, root)
    await database_sync_to_async(Workspace.objects.filter(pk=workspace_id).delete)()

    # A reinstall of the same version is a change too (the code may differ).
    assert await run(root, "pip", "install", "--no-index", "--force-reinstall", str(wheel)) == 0
    event = await events.next()
    await watcher.poll_once()

    assert event.kind == KIND_PACKAGES and event.meta["packages"]["tinypkg"] == "1.0"
    assert await pip_rows(workspace_id) == []


async def test_the_process_has_one_watcher():
    assert get_environment_watcher() is get_environment_watcher()


def test_read_env_meta_tolerates_missing_and_corrupt_files(tmp_path):
    assert read_env_meta(tmp_path) is None
    (tmp_path / ".devbench").mkdir()
    meta = tmp_path / ".devbench" / "env_meta.json"
    meta.write_text('{"updated_at": "2025-01-01T00:00:00+00:00", "pack')
    assert read_env_meta(tmp_path) is None
    meta.write_text("[1, 2]")
    assert read_env_meta(tmp_path) is None
    meta.write_text('{"updated_at": "2025-01-01T00:00:00+00:00", "packages": {}}')
    assert read_env_meta(tmp_path) == {"updated_at": "2025-01-01T00:00:00+00:00", "packages": {}}


def test_read_env_meta_refuses_what_a_workspace_user_could_plant(tmp_path):
    root = tmp_path / "ws"
    (root / ".devbench").mkdir(parents=True)
    meta = root / ".devbench" / "env_meta.json"
    outside = tmp_path / "platform-secrets.json"
    outside.write_text('{"secret": "do not show"}')

    meta.symlink_to(outside)
    assert read_env_meta(root) is None
    meta.unlink()
    os.mkfifo(meta)  # would block a naive reader forever
    assert read_env_meta(root) is None
    meta.unlink()
    meta.write_text('{"padding": "' + "x" * (JSON_MAX_BYTES + 1) + '"}')
    assert read_env_meta(root) is None
