"""WebSocket bridge to the workspace runner (protocol: docs/protocols.md, "runner")."""

import asyncio
from functools import partial

from channels.db import database_sync_to_async

from platform_core import websocket_limits
from platform_core.access import LiveSocket, get_access_watcher
from platform_core.close_codes import FORBIDDEN
from platform_core.consumers import DirectDispatchMixin, TolerantJsonConsumer
from terminal.permissions import WRITE, terminal_access, terminal_level
from terminal.runner import RunnerError, get_runner_manager
from terminal.runner_requests import InvalidRunRequest, parse_run_request


class RunnerConsumer(DirectDispatchMixin, TolerantJsonConsumer):
    """Translates runner frames; the RunnerManager owns the processes."""

    max_message_bytes = websocket_limits.RUNNER_MESSAGE_BYTES

    async def connect(self):
        self.workspace = None
        self.run_task: asyncio.Task | None = None
        self.live_socket: LiveSocket | None = None
        self.revoked = False
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        changes_seen = await get_access_watcher().start()
        workspace_id = self.scope["url_route"]["kwargs"]["workspace_id"]
        access = await database_sync_to_async(terminal_access)(user, workspace_id)
        if access is None or access[1] != WRITE:
            await self.close()  # refused before accept: no such workspace for this user, or no right to run
            return
        self.workspace = access[0]
        await self.accept()
        socket = LiveSocket.for_scope(
            self.scope,
            kind="runner",
            workspace_id=self.workspace.pk,
            level=WRITE,
            rights=partial(terminal_level, workspace_id=self.workspace.pk),
            apply=self._access_changed,
        )
        self.live_socket = get_access_watcher().watch(socket, changes_seen)

    async def receive_json(self, content, **kwargs):
        if self.revoked:
            return
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "run":
            await self._start_run(content)
        elif kind == "stop":
            await asyncio.wrap_future(get_runner_manager().stop(self.workspace.pk))
        else:
            await self.send_json({"type": "error", "code": "invalid", "message": "Send a run or stop message."})

    async def _start_run(self, content):
        if self.run_task is not None and not self.run_task.done():
            await self.send_json({"type": "error", "code": "busy", "message": "A run is already in progress."})
            return
        try:
            request = parse_run_request(self.workspace, content, allowed_keys={"type", "path", "code", "args"})
        except InvalidRunRequest as error:
            await self.send_json({"type": "error", "code": "invalid", "message": str(error)})
            return
        self.run_task = asyncio.create_task(self._run(request))

    async def _run(self, request):
        loop = asyncio.get_running_loop()

        async def forward(event):
            # Called on the runner's loop thread: hand the frame to ours.
            if not self.revoked:
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.send_json(event), loop))

        try:
            await asyncio.wrap_future(get_runner_manager().run(self.workspace.pk, request, forward))
        except RunnerError as error:
            message = {"type": "error", "code": error.code, "message": error.message}
            if error.stderr:
                message["stderr"] = error.stderr
            if not self.revoked:
                await self.send_json(message)

    async def _access_changed(self, level: str | None, reason: str) -> None:
        """The user lost the right to run code here (platform_core.access): stop their run, say why, close."""
        if level == WRITE or self.revoked:
            return
        self.revoked = True
        if self.run_task is not None and not self.run_task.done():
            get_runner_manager().stop(self.workspace.pk)  # not awaited: the socket closes at once
        message = f"{reason} You can no longer run code in this workspace."
        await self.send_json({"type": "error", "code": "access_revoked", "message": message})
        await self.close(code=FORBIDDEN)

    async def disconnect(self, code):
        get_access_watcher().unwatch(self.live_socket)
        # Nobody is left to read the output of a run started from this socket.
        if self.workspace is not None and self.run_task is not None and not self.run_task.done():
            await asyncio.wrap_future(get_runner_manager().stop(self.workspace.pk))
