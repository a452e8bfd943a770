"""The workspace events WebSocket (protocol: docs/protocols.md, "/ws/workspaces/<id>/events/").

Tells an open IDE page what changed on disk and that its workspace was
deleted. Members of any role may follow (viewers see the tree too); the
consumer authorizes before accepting, registers the socket with the access
watcher, and hands it to the FileEventsManager, which owns the watch.
"""

from functools import partial

from channels.db import database_sync_to_async

from platform_core import websocket_limits
from platform_core.access import LiveSocket, get_access_watcher
from platform_core.close_codes import FORBIDDEN, NOT_FOUND
from platform_core.consumers import DirectDispatchMixin, TolerantJsonConsumer
from workspaces.file_events import WORKSPACE_DELETED, EventsClient, get_file_events_manager
from workspaces.models import Workspace
from workspaces.roles import EDIT_FILES, VIEW
from workspaces.runtime import get_runtime

EDIT, READ = "edit", "read"  # what the page may do with the files; re-checked while the socket is open


def events_access(user, workspace_id: int) -> tuple[Workspace, str] | None:
    """(workspace, EDIT or READ) if ``user`` may see the workspace; None otherwise (the API's rules)."""
    if user is None or not user.is_authenticated:
        return None
    workspace = Workspace.objects.restrict(user, VIEW).filter(pk=workspace_id).first()
    if workspace is None:
        return None
    return workspace, EDIT if user.has_perm(f"workspaces.{EDIT_FILES}", workspace) else READ


def events_level(user, workspace_id: int) -> str | None:
    access = events_access(user, workspace_id)
    return access[1] if access else None


class WorkspaceEventsConsumer(DirectDispatchMixin, TolerantJsonConsumer):
    """Translates the manager's events into frames for one IDE page; answers pings."""

    max_message_bytes = websocket_limits.EVENTS_MESSAGE_BYTES

    async def connect(self):
        self.client: EventsClient | None = None
        self.live_socket: LiveSocket | None = None
        self.workspace_id = self.scope["url_route"]["kwargs"]["workspace_id"]
        changes_seen = await get_access_watcher().start()
        access = await database_sync_to_async(events_access)(self.scope.get("user"), self.workspace_id)
        if access is None:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        workspace, level = access
        await self.accept()
        if workspace.status != Workspace.Status.READY:
            status = workspace.get_status_display().lower()
            message = f"The workspace is {status}; its files are followed once it is ready."
            await self.send_json({"type": "notice", "level": "info", "code": "workspace_not_ready", "message": message})
            await self.close(code=NOT_FOUND)
            return
        self.client = EventsClient(self.send_json, self._close)
        self.client.start()
        socket = LiveSocket.for_scope(
            self.scope,
            kind="events",
            workspace_id=workspace.pk,
            level=level,
            rights=partial(events_level, workspace_id=workspace.pk),
            apply=self._access_changed,
        )
        self.live_socket = get_access_watcher().watch(socket, changes_seen)
        root = get_runtime(workspace.runtime or None).root(workspace.pk)
        await get_file_events_manager().subscribe(
            workspace.pk, root, self.client, {"type": "ready", "can_edit": level == EDIT}
        )

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping" and len(content) == 1:
            await self.send_json({"type": "pong"})
        else:
            await self.reject_frame("invalid_message", 'This socket only takes {"type": "ping"}.')

    async def _access_changed(self, level: str | None, reason: str) -> None:
        """Access changed (platform_core.access): say so, or close: 4003, or 4004 if the workspace is gone."""
        if self.client is None or self.client.closing:
            return
        if level is not None:
            can_edit = level == EDIT
            effect = "You can now change its files." if can_edit else "You can no longer change its files."
            self.client.send({"type": "access_changed", "can_edit": can_edit, "message": f"{reason} {effect}"})
            return
        get_file_events_manager().unsubscribe(self.workspace_id, self.client)
        if not await database_sync_to_async(Workspace.objects.filter(pk=self.workspace_id).exists)():
            # Deleted where no signal reached this process: the periodic re-check found it.
            self.client.send({"type": "workspace_closed", "message": WORKSPACE_DELETED})
            self.client.close(NOT_FOUND)
            return
        self.client.notice("error", "access_revoked", reason)
        self.client.close(FORBIDDEN)

    async def disconnect(self, code):
        get_access_watcher().unwatch(self.live_socket)
        if self.client is not None:
            get_file_events_manager().unsubscribe(self.workspace_id, self.client)
            self.client.stop()

    async def _close(self, code: int) -> None:
        await self.close(code=code)
