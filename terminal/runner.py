"""The warm per-workspace Python runner, on the platform side.

``RunnerSession`` owns one long-lived ``devbench_runner.py`` process started in
the workspace's venv through the workspace runtime. Before every run it
compares the workspace's env_meta.json with the one it started with and
restarts when packages changed, so a ``pip install`` in the terminal is picked
up by the next run. ``RunnerManager`` keeps one session per workspace and runs
everything on its own event-loop thread, so async consumers and sync API views
share the same warm processes.
"""

import asyncio
import itertools
import json
import posixpath
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from django.conf import settings

from platform_core import json_limits
from platform_core.per_process import PerProcess
from terminal import metrics
from workspaces.environment.watcher import environment_stamp
from workspaces.platform_writes import write_file
from workspaces.runtime import get_runtime
from workspaces.runtime.base import SYSTEM_PATH, InputOverflowError

logger = structlog.get_logger(__name__)

RUNNER_SCRIPT = Path(__file__).resolve().parent / "runner_files" / "devbench_runner.py"
# Where the runner's copy lives in the workspace: the workspace's processes may
# not see the platform's files (a sandbox, a container), so, like the shell's rc
# file, the runner is written into the workspace each time it starts.
RUNNER_RELATIVE_PATH = ".devbench/devbench_runner.py"
STOP_GRACE_SECONDS = 2.0
START_TIMEOUT_SECONDS = 30.0

EventCallback = Callable[[dict], Awaitable[None]]


class RunnerError(Exception):
    """A run could not start; ``code`` and ``stderr`` go to the client."""

    def __init__(self, code: str, message: str, stderr: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.stderr = stderr


@dataclass
class RunRequest:
    path: str | None = None
    code: str | None = None
    args: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    run_id: str
    exit_code: int
    duration_ms: int


def _record_restart(workspace_id: int, reason: str) -> None:
    from django.db import connections

    from platform_core import audit
    from workspaces.models import Workspace

    try:
        workspace = Workspace.objects.filter(pk=workspace_id).first()
        if workspace is not None:
            audit.record(
                None, "runner.restart", None, workspace=workspace, actor_username="runner", metadata={"reason": reason}
            )
    finally:
        # An executor thread of the runner's loop: no request cycle ever closes
        # its connection, and with CONN_MAX_AGE it would stay open for good.
        connections.close_all()


class RunnerSession:
    """One warm runner process of one workspace, and the run in progress."""

    _ids = itertools.count(1)

    def __init__(self, workspace_id: int):
        self.workspace_id = workspace_id
        self.runtime = get_runtime()
        self.root = self.runtime.root(workspace_id)
        # The workspace root as the runner process sees it: every path it is sent is built on this.
        self.process_root = self.runtime.process_root(workspace_id)
        self.process = None
        self.started_with: str | None = None
        self.restarts = 0
        self.last_used = time.monotonic()
        self._lock = asyncio.Lock()
        self._events: asyncio.Queue[dict] | None = None
        self._current_pid: int | None = None
        self._run_ended = asyncio.Event()
        self._stderr_tail: list[str] = []

    # -- process lifetime -------------------------------------------------
    async def _start(self) -> None:
        python = posixpath.join(self.process_root, ".venv", "bin", "python")
        self._events = asyncio.Queue()
        self._stderr_tail = []
        self.started_with = environment_stamp(self.root)
        try:
            await asyncio.to_thread(write_file, self.root, RUNNER_RELATIVE_PATH, RUNNER_SCRIPT.read_bytes())
            self.process = await self.runtime.spawn(
                self.workspace_id,
                [python, "-u", posixpath.join(self.process_root, RUNNER_RELATIVE_PATH)],
                tty=False,
                env=self._environment(),
            )
        except OSError as error:
            raise RunnerError("environment_refresh_failed", f"The runner could not start: {error}") from error
        asyncio.get_running_loop().create_task(self._pump_stdout(self.process, self._events))
        asyncio.get_running_loop().create_task(self._pump_stderr(self.process))
        try:
            ready = await asyncio.wait_for(self._events.get(), START_TIMEOUT_SECONDS)
        except TimeoutError:
            ready = None
        if not ready or ready.get("ev") != "ready":
            await self._kill()
            raise RunnerError(
                "environment_refresh_failed",
                "Environment refresh failed: the workspace's Python could not start the runner.",
                "".join(self._stderr_tail)[-8000:],
            )
        logger.info("runner_started", workspace_id=self.workspace_id, pid=self.process.pid)

    def _environment(self) -> dict[str, str]:
        venv = posixpath.join(self.process_root, ".venv")
        return {
            "PATH": f"{venv}/bin:{SYSTEM_PATH}",
            "VIRTUAL_ENV": venv,
            "HOME": posixpath.join(self.process_root, ".devbench", "home"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }

    async def _pump_stdout(self, process, events: asyncio.Queue) -> None:
        async for line in process.stdout_lines():
            try:
                # The runner runs workspace code: its lines are parsed as client input.
                events.put_nowait(json_limits.loads(line, max_depth=settings.JSON_MAX_DEPTH))
            except ValueError:
                continue
        events.put_nowait({"ev": "exited"})

    async def _pump_stderr(self, process) -> None:
        async for line in process.stderr_lines():
            self._stderr_tail = (self._stderr_tail + [line])[-200:]

    async def _kill(self) -> None:
        if self.process is not None:
            await self.process.terminate(grace_seconds=STOP_GRACE_SECONDS)
            self.process = None

    async def restart(self, reason: str) -> None:
        await self._kill()
        self.restarts += 1
        metrics.RUNNER_RESTARTS.inc()
        logger.info("runner_restart", workspace_id=self.workspace_id, reason=reason)
        await asyncio.to_thread(_record_restart, self.workspace_id, reason)

    async def close(self) -> None:
        await self._kill()

    # -- runs ---------------------------------------------------------------
    async def run(self, request: RunRequest, on_event: EventCallback) -> RunResult:
        """Run one request, streaming events to ``on_event``; one run at a time."""
        if self._lock.locked():
            raise RunnerError("busy", "A run is already in progress in this workspace's runner.")
        async with self._lock:
            self.last_used = time.monotonic()
            if self.process is not None and environment_stamp(self.root) != self.started_with:
                await on_event({"type": "restarting", "reason": "The workspace's packages changed."})
                await self.restart("environment changed")
            if self.process is None or not self.process.is_running():
                await self._start()
            run_id = f"r{next(self._ids)}"
            path = posixpath.join(self.process_root, request.path) if request.path else None
            message = {
                "op": "run",
                "id": run_id,
                "path": path,
                "code": request.code,
                "args": request.args,
                "cwd": posixpath.dirname(path) if path else self.process_root,
            }
            started = time.monotonic()
            self.process.write((json.dumps(message) + "\n").encode())
            while True:
                event = await self._events.get()
                kind = event.get("ev")
                if kind == "started" and event.get("id") == run_id:
                    self._current_pid = event["pid"]
                    self._run_ended.clear()
                    await on_event({"type": "started", "run_id": run_id})
                elif kind == "output" and event.get("id") == run_id:
                    await on_event(
                        {"type": "output", "run_id": run_id, "stream": event["stream"], "data": event["data"]}
                    )
                elif kind == "finished" and event.get("id") == run_id:
                    self._current_pid = None
                    self._run_ended.set()
                    result = RunResult(run_id, event["exit_code"], int((time.monotonic() - started) * 1000))
                    await on_event(
                        {
                            "type": "finished",
                            "run_id": run_id,
                            "exit_code": result.exit_code,
                            "duration_ms": result.duration_ms,
                        }
                    )
                    self.last_used = time.monotonic()
                    return result
                elif kind == "exited":
                    self._current_pid = None
                    self._run_ended.set()
                    self.process = None
                    raise RunnerError("runner_exited", "The runner stopped unexpectedly.", "".join(self._stderr_tail))

    async def stop(self) -> bool:
        """Stop the run in progress: SIGINT to its process group, SIGKILL if it lingers.

        The runner signals its own child: only it knows the child's pid as the
        workspace's processes see them (in a sandbox they have their own).
        """
        if self._current_pid is None or self.process is None:
            return False
        try:
            self.process.write(b'{"op": "stop", "signal": "SIGINT"}\n')
            try:
                await asyncio.wait_for(self._run_ended.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                self.process.write(b'{"op": "stop", "signal": "SIGKILL"}\n')
        except InputOverflowError:
            await self.restart("the runner stopped reading")
        return True


class RunnerManager:
    """All runner sessions of this process, on one dedicated event-loop thread.

    Sync code (API views) and async code (consumers) both submit coroutines
    here; the runner processes' pipes are read by this loop only.
    """

    def __init__(self):
        self.sessions: dict[int, RunnerSession] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="devbench-runner-loop", daemon=True)
        self.thread.start()
        self.submit(self._cull_idle_forever())

    def submit(self, coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def session(self, workspace_id: int) -> RunnerSession:
        if workspace_id not in self.sessions:
            self.sessions[workspace_id] = RunnerSession(workspace_id)
        return self.sessions[workspace_id]

    async def _cull_idle_forever(self) -> None:
        while True:
            await asyncio.sleep(30)
            idle_after = settings.RUNNER_IDLE_SECONDS
            for workspace_id, session in list(self.sessions.items()):
                if not session._lock.locked() and time.monotonic() - session.last_used > idle_after:
                    await session.close()
                    self.sessions.pop(workspace_id, None)

    # Entry points usable from any thread --------------------------------
    def run(self, workspace_id: int, request: RunRequest, on_event: EventCallback) -> Future:
        return self.submit(self._run(workspace_id, request, on_event))

    async def _run(self, workspace_id, request, on_event):
        return await self.session(workspace_id).run(request, on_event)

    def stop(self, workspace_id: int) -> Future:
        return self.submit(self.session(workspace_id).stop())

    def restart(self, workspace_id: int, reason: str) -> Future:
        return self.submit(self.session(workspace_id).restart(reason))

    def close_workspace(self, workspace_id: int) -> Future:
        async def close():
            session = self.sessions.pop(workspace_id, None)
            if session is not None:
                await session.close()

        return self.submit(close())


MANAGER: PerProcess[RunnerManager] = PerProcess(RunnerManager)


def get_runner_manager() -> RunnerManager:
    """The runner manager of this process."""
    return MANAGER.get()
