"""The IDE's file events: who follows which workspace's files, and the one watch per workspace that feeds them.

Protocol: docs/protocols.md, "/ws/workspaces/<id>/events/". Sessions own
resources: the events sockets of an IDE page subscribe here
(``FileEventsManager.subscribe``), and the manager holds one watch of the
workspace's folder (workspaces/tree_watcher.py) while at least one socket of
that workspace is open in this process, and drops it with the last. Each
socket gets its messages through an ``EventsClient``: one outbox drained by
one task, so messages reach the socket in order and the watcher never waits
on a slow socket.

A deleted workspace closes its sockets with ``workspace_closed`` and 4004:
``schedule_close_workspace`` (the deletion's signal, any thread) and, when the
deletion happened in another process, the watcher seeing the folder leave for
the trash.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from channels.db import database_sync_to_async
from django.conf import settings

from platform_core.background import BackgroundTasks
from platform_core.close_codes import NOT_FOUND, RESTART
from platform_core.per_process import PerProcess
from workspaces.tree_watcher import (
    BATCH_SECONDS,
    Changes,
    Limited,
    Resync,
    RootGone,
    TreeWatcher,
    WatchEvent,
    WatchUnavailable,
)

logger = structlog.get_logger(__name__)

WORKSPACE_DELETED = "This workspace was deleted."
# A client whose socket takes no more than this many queued messages gets the
# rest as one "resync" once it catches up: changes are worth nothing late.
MAX_QUEUED_MESSAGES = 64


class EventsClient:
    """One events WebSocket as the manager sees it: an ordered outbox in front of the socket.

    ``send`` and ``close`` never wait. While more than ``MAX_QUEUED_MESSAGES``
    wait to be sent, further ``changes`` and ``resync`` messages are dropped
    and one ``resync`` follows once the socket has caught up. Until ``ready``
    is sent the client hears no changes (it asks for the state of things
    after "ready" anyway).
    """

    def __init__(self, send: Callable[[dict], Awaitable[None]], close: Callable[[int], Awaitable[None]]):
        self._send = send
        self._close = close
        self.ready = False
        self.closing = False
        self._behind = False
        self._outbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._writer: asyncio.Task | None = None

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._drain())

    def stop(self) -> None:
        """The socket is gone: drop whatever is still queued."""
        self.closing = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()

    def send(self, message: dict) -> None:
        if self.closing:
            return
        if message["type"] in ("changes", "resync") and self._outbox.qsize() >= MAX_QUEUED_MESSAGES:
            self._behind = True
            return
        self._outbox.put_nowait(("message", message))

    def notice(self, level: str, code: str, message: str) -> None:
        self.send({"type": "notice", "level": level, "code": code, "message": message})

    def close(self, code: int) -> None:
        if not self.closing:
            self.closing = True
            self._outbox.put_nowait(("close", code))

    async def _drain(self) -> None:
        while True:
            kind, payload = await self._outbox.get()
            if kind == "close":
                await self._close(payload)
                return
            await self._send(payload)
            if self._behind and self._outbox.empty():
                self._behind = False
                await self._send({"type": "resync", "reason": "Changes came faster than this page took them."})


class FileEventsManager:
    """The events sockets of this process by workspace, and the watch each watched workspace has.

    Everything runs on the event loop that serves the sockets, except
    ``schedule_close_workspace`` (any thread) and the watcher's callback,
    which hands its events over to that loop.
    """

    def __init__(self, *, batch_seconds: float = BATCH_SECONDS):
        self.clients: dict[int, set[EventsClient]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._batch_seconds = batch_seconds
        self._watcher: TreeWatcher | None = None
        self._watches: dict[int, asyncio.Future] = {}
        self._limited: dict[int, str] = {}  # workspace id -> why some folders are not watched
        self._background = BackgroundTasks("file_events")

    @property
    def watcher(self) -> TreeWatcher:
        if self._watcher is None:
            self._watcher = TreeWatcher(self._from_watcher, batch_seconds=self._batch_seconds)
        return self._watcher

    # Sockets -----------------------------------------------------------------------------------------

    async def subscribe(self, workspace_id: int, root: Path, client: EventsClient, ready: dict) -> None:
        """Let ``client`` follow the workspace's files, watching them if nobody did yet.

        ``ready`` (the "ready" message) is sent once the watch is in place, so
        every change after it reaches the client; with ``"watching": false``
        and a notice when the folder cannot be watched (the socket stays for
        the other messages).
        """
        self.loop = asyncio.get_running_loop()
        # Counted from now on: a socket leaving meanwhile must not end the watch this one waits for.
        self.clients.setdefault(workspace_id, set()).add(client)
        started = self._watches.get(workspace_id)
        if started is None:
            future = self.watcher.watch(workspace_id, root, max_directories=settings.FILE_WATCH_MAX_DIRECTORIES)
            started = self._watches[workspace_id] = asyncio.wrap_future(future)
        try:
            await asyncio.shield(started)
        except Exception as error:
            if self._watches.get(workspace_id) is started:
                del self._watches[workspace_id]  # the next socket tries again
            logger.warning("file_events_unavailable", workspace_id=workspace_id, reason=repr(error))
            # WatchUnavailable says why in words without host paths; anything else is not shown.
            why = f"{error} " if isinstance(error, WatchUnavailable) else ""
            client.send({**ready, "watching": False})
            client.notice("warning", "watch_unavailable", f"Changes on disk are not followed live. {why}Use Refresh.")
            return
        client.ready = True
        client.send({**ready, "watching": True})
        if workspace_id in self._limited:
            client.notice("warning", "watch_limited", self._limited[workspace_id])

    def unsubscribe(self, workspace_id: int, client: EventsClient) -> None:
        followers = self.clients.get(workspace_id)
        if followers is None or client not in followers:
            return
        followers.discard(client)
        if not followers:
            del self.clients[workspace_id]
            self._stop_watching(workspace_id)

    def _stop_watching(self, workspace_id: int) -> None:
        self._limited.pop(workspace_id, None)
        if self._watches.pop(workspace_id, None) is not None:
            self.watcher.unwatch(workspace_id)

    # What the watcher reports -------------------------------------------------------------------------

    def _from_watcher(self, workspace_id: int, event: WatchEvent) -> None:
        # On the watcher's thread: hand over to the sockets' loop.
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._deliver, workspace_id, event)

    def _deliver(self, workspace_id: int, event: WatchEvent) -> None:
        if isinstance(event, RootGone):
            self._watches.pop(workspace_id, None)
            self._background.start(self._root_gone(workspace_id))
            return
        if isinstance(event, Changes):
            changes = [
                {"path": change.path, "change": change.change, "kind": "directory" if change.is_directory else "file"}
                for change in event.changes
            ]
            message = {"type": "changes", "changes": changes}
        elif isinstance(event, Resync):
            message = {"type": "resync", "reason": event.reason}
        elif isinstance(event, Limited):
            self._limited[workspace_id] = event.message
            message = {"type": "notice", "level": "warning", "code": "watch_limited", "message": event.message}
        else:
            return
        for client in self.clients.get(workspace_id, ()):
            if client.ready:
                client.send(message)

    async def _root_gone(self, workspace_id: int) -> None:
        from workspaces.models import Workspace

        if not await database_sync_to_async(Workspace.objects.filter(pk=workspace_id).exists)():
            await self.close_workspace(workspace_id)
            return
        # The folder left under a workspace that still exists (moved by hand):
        # the pages reconnect and watch whatever is there now.
        logger.warning("file_events_root_gone", workspace_id=workspace_id)
        for client in list(self.clients.get(workspace_id, ())):
            client.notice("warning", "watch_restarting", "The workspace's folder was moved; following it again.")
            client.close(RESTART)

    # The workspace was deleted ---------------------------------------------------------------------------

    async def close_workspace(self, workspace_id: int) -> None:
        """Tell every socket of a deleted workspace, then close them with 4004."""
        for client in list(self.clients.get(workspace_id, ())):
            client.send({"type": "workspace_closed", "message": WORKSPACE_DELETED})
            client.close(NOT_FOUND)

    def schedule_close_workspace(self, workspace_id: int) -> None:
        """``close_workspace`` for sync code and other threads (the deletion's signal)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return  # no events socket was ever opened in this process
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(lambda: self._background.start(self.close_workspace(workspace_id)))

    # Shutdown ------------------------------------------------------------------------------------------

    async def close_all(self) -> None:
        """Stop watching everything and end the watcher's thread (orderly shutdown, tests)."""
        for workspace_id in list(self._watches):
            self._stop_watching(workspace_id)
        await self._background.wait()
        if self._watcher is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._watcher.stop)


MANAGER: PerProcess[FileEventsManager] = PerProcess(FileEventsManager)


def get_file_events_manager() -> FileEventsManager:
    """The file events manager of this process."""
    return MANAGER.get()
