"""The platform side of the environment hooks: notice changes, tell subscribers, audit pip calls.

Terminal sessions, language-server sessions and the runner subscribe here to
learn that a workspace's packages changed (``.devbench/env_meta.json``) or that
someone asked for a runner restart (``.devbench/runner-restart-requested``).
Each new pip log in ``.pip-logs/`` becomes one ``pip.run`` audit row. The
contract is written down in docs/environment.md.

This module must not import terminal/ or lsp/: they import it.
"""

import asyncio
import inspect
import json
import os
import re
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from channels.db import database_sync_to_async
from django.db import transaction

from workspaces import beneath
from workspaces.environment.attribution import UNKNOWN_ACTOR, verified_session
from workspaces.environment.installer import LOGS_DIR, META_FILE, RESTART_REQUEST_FILE, STATE_DIR

logger = structlog.get_logger(__name__)

KIND_PACKAGES = "packages"
KIND_RUNNER_RESTART = "runner_restart"

# Why a poll and not watchfiles' awatch (inotify):
# - awatch parks one thread per watch in anyio's default thread limiter (40
#   tokens, shared with everything else using anyio.to_thread in the process),
#   so a busy server with 40 open workspaces would stall every other watch;
# - awatch gives no signal when its watch is in place, so a pip call finishing
#   right after watch() could go unnoticed; a poll starts from a baseline
#   taken inside watch() and cannot miss it;
# - inotify does not see writes made inside a Docker Desktop VM or on network
#   file systems, where the coming Docker runtime's workspaces may live.
# A poll stats two files and lists one small directory per workspace per
# second, in one executor call for all workspaces: negligible, and pip calls
# take seconds anyway.
POLL_INTERVAL_SECONDS = 1.0
# Audit rows keep the command, never the output; very long argument lists are cut.
AUDIT_MAX_ARGUMENTS = 64
AUDIT_MAX_ARGUMENT_CHARS = 512
# These files are written by code running in the workspace, so the platform
# reads them as untrusted input: bounded in size, regular files inside the
# workspace only, and a bounded number of new logs per workspace and poll
# (the hook itself keeps at most 50).
JSON_MAX_BYTES = 4 * 1024 * 1024
NEW_LOGS_PER_POLL = 50
LOG_NAME_PATTERN = re.compile(r"\d{8}T\d{6}\.\d{6}Z-\d+\.json")


@dataclass(frozen=True)
class EnvironmentEvent:
    """Something changed in a workspace's environment.

    ``kind`` is ``"packages"`` (env_meta.json was rewritten: packages were
    installed, removed or reinstalled) or ``"runner_restart"`` (someone ran
    ``devbench-env restart-runner``). ``updated_at`` is the ISO 8601 UTC time of
    the change as the workspace recorded it; ``meta`` is the current
    env_meta.json (empty if it cannot be read).
    """

    workspace_id: int
    kind: str
    updated_at: str
    meta: dict[str, Any] = field(default_factory=dict)


EnvironmentCallback = Callable[[EnvironmentEvent], Awaitable[None] | None]


def read_env_meta(root: Path) -> dict[str, Any] | None:
    """The workspace's env_meta.json, or None if it is missing, unreadable or corrupt."""
    return _read_workspace_json(Path(root), Path(STATE_DIR) / META_FILE)


def read_runner_restart_request(root: Path) -> dict[str, Any] | None:
    """The last ``devbench-env restart-runner`` request (``{"requested_at", ...}``), or None."""
    return _read_workspace_json(Path(root), Path(STATE_DIR) / RESTART_REQUEST_FILE)


def environment_stamp(root: Path) -> str | None:
    """A string that changes whenever the workspace runner should restart, or None if nothing is recorded.

    Combines env_meta.json's ``updated_at`` (packages changed) and the last
    restart request's ``requested_at``: a runner remembers the stamp it started
    with and restarts when the current one differs.
    """
    meta = read_env_meta(root)
    request = read_runner_restart_request(root)
    if meta is None and request is None:
        return None
    return f"{(meta or {}).get('updated_at')}|{(request or {}).get('requested_at')}"


def _read_workspace_json(root: Path, relative: Path) -> dict[str, Any] | None:
    """A JSON object from a file of the workspace, or None.

    None as well for anything a workspace user could plant to hurt or fool the
    platform: a symlink out of the workspace, a FIFO (which would block the
    reading thread forever), a device, a file over JSON_MAX_BYTES.
    """
    try:
        # Walked from the root by descriptor: a link swapped in while we read
        # cannot send the read outside (links that stay inside are followed).
        with beneath.Root(root) as opened, beneath.walk(opened, list(relative.parts), open_final=True) as location:
            if location.fd is None or not stat.S_ISREG(os.fstat(location.fd).st_mode):
                return None
            with os.fdopen(os.dup(location.fd), "rb") as stream:
                content = stream.read(JSON_MAX_BYTES + 1)
        if len(content) > JSON_MAX_BYTES:
            return None
        data = json.loads(content)
    except (OSError, ValueError, beneath.LeadsOutside, beneath.Missing, beneath.TooManyLinks, beneath.NotOpenable):
        return None
    return data if isinstance(data, dict) else None


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    # Writers replace these files atomically, so each write brings a new inode;
    # mtime and size cover file systems that recycle inode numbers at once.
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


@dataclass
class _Watch:
    workspace_id: int
    root: Path
    subscribers: int = 1
    meta_signature: tuple[int, int, int] | None = None
    meta_updated_at: str | None = None
    restart_signature: tuple[int, int, int] | None = None
    seen_logs: frozenset[str] = frozenset()


@dataclass
class _Observation:
    """What one look at a workspace found (taken in a worker thread)."""

    meta_signature: tuple[int, int, int] | None
    meta: dict[str, Any] | None
    restart_signature: tuple[int, int, int] | None
    restart: dict[str, Any] | None
    log_names: frozenset[str]
    new_logs: list[tuple[str, dict[str, Any] | None]]


def _observe(watch: _Watch, read_changes: bool = True) -> _Observation:
    """Stat the watched files and read whatever changed since ``watch`` last looked (blocking)."""
    state = watch.root / STATE_DIR
    meta_signature = _file_signature(state / META_FILE)
    restart_signature = _file_signature(state / RESTART_REQUEST_FILE)
    try:
        log_names = frozenset(name for name in os.listdir(watch.root / LOGS_DIR) if LOG_NAME_PATTERN.fullmatch(name))
    except OSError:
        log_names = frozenset()
    meta = restart = None
    new_logs: list[tuple[str, dict[str, Any] | None]] = []
    if read_changes:
        if meta_signature is not None and meta_signature != watch.meta_signature:
            meta = read_env_meta(watch.root)
        if restart_signature is not None and restart_signature != watch.restart_signature:
            restart = read_runner_restart_request(watch.root) or {}
        new_names = sorted(log_names - watch.seen_logs)
        if len(new_names) > NEW_LOGS_PER_POLL:
            logger.warning(
                "pip_logs_skipped", workspace_id=watch.workspace_id, count=len(new_names) - NEW_LOGS_PER_POLL
            )
            new_names = new_names[-NEW_LOGS_PER_POLL:]
        new_logs = [(name, _read_workspace_json(watch.root, Path(LOGS_DIR) / name)) for name in new_names]
    elif meta_signature is not None:
        meta = read_env_meta(watch.root)
    return _Observation(meta_signature, meta, restart_signature, restart, log_names, new_logs)


class EnvironmentWatcher:
    """Watches workspaces' environment files and tells subscribers what changed.

    One per process (``get_environment_watcher()``), living on the event loop
    that first calls ``watch``. Watches are reference-counted per workspace:
    every session that needs events calls ``watch`` once and ``unwatch`` once,
    and several sessions of one workspace share one watch. Subscribers get the
    events of every watched workspace and filter by ``workspace_id`` (or pass
    it to ``subscribe``). Each new pip log becomes one ``pip.run`` audit row.
    """

    def __init__(self, *, poll_interval: float = POLL_INTERVAL_SECONDS):
        self.poll_interval = poll_interval
        self._watches: dict[int, _Watch] = {}
        self._subscribers: list[tuple[EnvironmentCallback, int | None]] = []
        self._task: asyncio.Task | None = None
        self._poll_lock: asyncio.Lock | None = None
        self._deliveries: set[asyncio.Task] = set()

    # Watching -----------------------------------------------------------------------

    async def watch(self, workspace_id: int, root: Path) -> None:
        """Start (or join) the watch of a workspace. Changes from now on are reported."""
        watch = self._watches.get(workspace_id)
        if watch is not None:
            watch.subscribers += 1
            return
        candidate = _Watch(workspace_id=workspace_id, root=Path(root))
        baseline = await asyncio.to_thread(_observe, candidate, False)
        # Another session may have started the same watch while we looked.
        watch = self._watches.get(workspace_id)
        if watch is not None:
            watch.subscribers += 1
            return
        candidate.meta_signature = baseline.meta_signature
        candidate.meta_updated_at = (baseline.meta or {}).get("updated_at")
        candidate.restart_signature = baseline.restart_signature
        candidate.seen_logs = baseline.log_names
        self._watches[workspace_id] = candidate
        self._ensure_polling()

    async def unwatch(self, workspace_id: int) -> None:
        """Leave the watch of a workspace; the last one out stops it. Unknown ids are ignored."""
        watch = self._watches.get(workspace_id)
        if watch is None:
            return
        watch.subscribers -= 1
        if watch.subscribers > 0:
            return
        del self._watches[workspace_id]
        if not self._watches and self._task is not None:
            self._task.cancel()
            self._task = None

    def watched(self) -> dict[int, int]:
        """Watched workspace ids with their number of watchers."""
        return {workspace_id: watch.subscribers for workspace_id, watch in self._watches.items()}

    # Subscribing ----------------------------------------------------------------------

    def subscribe(self, callback: EnvironmentCallback, *, workspace_id: int | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` for every change (of one workspace, if given). Returns the unsubscribe function.

        Callbacks may be coroutine functions or plain functions. Each call runs
        in its own task, so a slow subscriber delays nobody; exceptions are
        logged and otherwise ignored.
        """
        entry = (callback, workspace_id)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    on_change = subscribe

    # Polling -----------------------------------------------------------------------------

    def _ensure_polling(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        # A watcher outliving its event loop (tests run one loop per test)
        # starts over on the current one.
        self._poll_lock = None
        self._task = loop.create_task(self._poll_forever(), name="environment-watcher")

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("environment_poll_failed")

    async def poll_once(self) -> None:
        """Look at every watched workspace now and report what changed.

        The background task calls this every ``poll_interval`` seconds; it is
        public for callers that just wrote a file and for tests. Polls never
        overlap, so a change is reported (and audited) once.
        """
        if self._poll_lock is None:
            self._poll_lock = asyncio.Lock()
        async with self._poll_lock:
            watches = list(self._watches.values())
            if not watches:
                return
            observations = await asyncio.to_thread(lambda: [_observe(watch) for watch in watches])
            for watch, observation in zip(watches, observations, strict=True):
                if self._watches.get(watch.workspace_id) is not watch:
                    continue  # unwatched meanwhile
                self._announce(watch, observation)
                await self._audit(watch, observation)

    def _announce(self, watch: _Watch, observation: _Observation) -> None:
        if observation.meta_signature != watch.meta_signature:
            watch.meta_signature = observation.meta_signature
            updated_at = (observation.meta or {}).get("updated_at")
            # A rewrite with the same updated_at (a copy, a touch) is no change.
            if observation.meta is not None and updated_at and updated_at != watch.meta_updated_at:
                watch.meta_updated_at = updated_at
                self._publish(EnvironmentEvent(watch.workspace_id, KIND_PACKAGES, str(updated_at), observation.meta))
        if observation.restart_signature != watch.restart_signature:
            watch.restart_signature = observation.restart_signature
            if observation.restart is not None:
                requested_at = observation.restart.get("requested_at") or datetime.now(UTC).isoformat()
                meta = observation.meta if observation.meta is not None else read_env_meta(watch.root) or {}
                self._publish(EnvironmentEvent(watch.workspace_id, KIND_RUNNER_RESTART, str(requested_at), meta))

    def _publish(self, event: EnvironmentEvent) -> None:
        logger.info(
            "environment_changed", workspace_id=event.workspace_id, kind=event.kind, updated_at=event.updated_at
        )
        for callback, workspace_id in list(self._subscribers):
            if workspace_id is None or workspace_id == event.workspace_id:
                task = asyncio.get_running_loop().create_task(self._deliver(callback, event))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, callback: EnvironmentCallback, event: EnvironmentEvent) -> None:
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("environment_subscriber_failed", workspace_id=event.workspace_id, kind=event.kind)

    async def _audit(self, watch: _Watch, observation: _Observation) -> None:
        # The set of names only ever needs the files still on disk: log names
        # carry their start time, so a pruned name never comes back.
        watch.seen_logs = observation.log_names
        for name, record in observation.new_logs:
            if record is None:
                logger.warning("pip_log_unreadable", workspace_id=watch.workspace_id, log=name)
                continue
            try:
                await _record_pip_run(watch.workspace_id, name, record)
            except Exception:
                logger.exception("pip_run_audit_failed", workspace_id=watch.workspace_id, log=name)

    async def close(self) -> None:
        """Stop polling and forget every watch and subscriber."""
        self._watches.clear()
        self._subscribers.clear()
        tasks = [task for task in (self._task, *self._deliveries) if task is not None]
        self._task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _audit_command(command: Any) -> list[str]:
    if not isinstance(command, list):
        return []
    return [str(argument)[:AUDIT_MAX_ARGUMENT_CHARS] for argument in command[:AUDIT_MAX_ARGUMENTS]]


@database_sync_to_async
def _record_pip_run(workspace_id: int, log_name: str, record: dict[str, Any]) -> bool:
    """One ``pip.run`` audit row per log file: command and exit code, never output.

    The row credits the person whose terminal session signed the log
    (workspaces/environment/attribution.py), or ``UNKNOWN_ACTOR``.
    """
    from platform_core import audit
    from platform_core.models import AuditLog
    from workspaces.models import Workspace

    with transaction.atomic():
        workspace = Workspace.objects.filter(pk=workspace_id).first()
        if workspace is None:
            logger.info("pip_run_not_audited_workspace_gone", workspace_id=workspace_id, log=log_name)
            return False
        # Another platform process watching the same workspace may have been
        # first (SQLite serialises these transactions; on Postgres the window
        # is one query wide).
        if AuditLog.objects.filter(action="pip.run", workspace_id=workspace_id, metadata__log=log_name).exists():
            return False
        session_id = verified_session(log_name, record)
        opened = None
        if session_id is not None:
            opened = (
                AuditLog.objects.filter(action="terminal.open", workspace_id=workspace_id, metadata__session=session_id)
                .select_related("actor")
                .first()
            )
        duration = record.get("duration_seconds")
        audit.record(
            opened.actor if opened is not None else None,
            "pip.run",
            None,
            workspace=workspace,
            actor_username=opened.actor_username if opened is not None else UNKNOWN_ACTOR,
            metadata={
                "command": _audit_command(record.get("command")),
                "exit_code": record.get("exit_code") if isinstance(record.get("exit_code"), int) else None,
                "duration_seconds": duration if isinstance(duration, int | float) else None,
                "started_at": str(record.get("started_at") or "")[:64],
                "log": log_name,
                "terminal_session": session_id if opened is not None else None,
            },
        )
    return True


_watcher: EnvironmentWatcher | None = None


def get_environment_watcher() -> EnvironmentWatcher:
    """The process's watcher (created on first use)."""
    global _watcher
    if _watcher is None:
        _watcher = EnvironmentWatcher()
    return _watcher
