"""WebSocket bridge to the workspace runner (protocol: docs/protocols.md, "runner")."""

import asyncio

from channels.db import database_sync_to_async

from platform_core.consumers import DirectDispatchMixin, TolerantJsonConsumer
from terminal.runner import RunnerError, get_runner_manager
from terminal.runner_requests import InvalidRunRequest, parse_run_request
from workspaces.models import Workspace
from workspaces.roles import USE_TERMINAL


@database_sync_to_async
def _workspace_for_runner(user, workspace_id: int) -> Workspace | None:
    workspace = Workspace.objects.restrict(user).filter(pk=workspace_id).first()
    if workspace is None or not user.has_perm(f"workspaces.{USE_TERMINAL}", workspace):
        return None
    return workspace


class RunnerConsumer(DirectDispatchMixin, TolerantJsonConsumer):
    """Translates runner frames; the RunnerManager owns the processes."""

    async def connect(self):
        self.workspace = None
        self.run_task: asyncio.Task | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.workspace = await _workspace_for_runner(user, self.scope["url_route"]["kwargs"]["workspace_id"])
        if self.workspace is None:
            await self.close()  # refused before accept: no such workspace for this user, or no right to run
            return
        await self.accept()

    async def receive_json(self, content, **kwargs):
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
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.send_json(event), loop))

        try:
            await asyncio.wrap_future(get_runner_manager().run(self.workspace.pk, request, forward))
        except RunnerError as error:
            message = {"type": "error", "code": error.code, "message": error.message}
            if error.stderr:
                message["stderr"] = error.stderr
            await self.send_json(message)

    async def disconnect(self, code):
        # Nobody is left to read the output of a run started from this socket.
        if self.workspace is not None and self.run_task is not None and not self.run_task.done():
            await asyncio.wrap_future(get_runner_manager().stop(self.workspace.pk))
