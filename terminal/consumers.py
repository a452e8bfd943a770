"""The terminal WebSocket (protocol: docs/protocols.md, "terminals")."""

import json
import re

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import Http404

from platform_core.close_codes import LIMIT_REACHED, NOT_FOUND
from platform_core.consumers import DirectDispatchMixin
from terminal.manager import TerminalLimitReached, TerminalNotFound, TerminalUnavailable, get_terminal_manager
from terminal.sessions import (
    MAX_BINARY_FRAME_BYTES,
    MAX_TEXT_FRAME_BYTES,
    ControlMessageError,
    TerminalClient,
    parse_control_message,
)
from workspaces.api.base import get_workspace_for
from workspaces.models import Workspace
from workspaces.roles import USE_TERMINAL

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
INTERNAL_ERROR = 1011  # RFC 6455: the server could not fulfil the request


@database_sync_to_async
def authorize(user, workspace_id: int) -> tuple[Workspace, bool] | None:
    """(workspace, may write) when ``user`` may see the workspace; None otherwise (the API's rules)."""
    if user is None or not user.is_authenticated:
        return None
    try:
        workspace = get_workspace_for(user, workspace_id)
    except Http404:
        return None
    return workspace, user.has_perm(f"workspaces.{USE_TERMINAL}", workspace)


class TerminalConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    """Translates frames between one WebSocket and a terminal session (terminado's TermSocket).

    It authorizes before accepting, then hands the socket to the terminal
    manager as a TerminalClient: binary frames become the shell's input, text
    frames are validated control messages, and everything the session sends
    leaves through the client's outbox. The session, not the socket, owns the
    shell: disconnecting only detaches.
    """

    session = None
    client: TerminalClient | None = None

    async def dispatch(self, message):
        # Channels closes stale database connections (a hop through the sync
        # thread) before every handler. Incoming frames touch no database, and
        # that hop per keystroke and per ack halved throughput and added echo
        # latency (docs/benchmarks.md); connect and disconnect keep it.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def connect(self):
        route = self.scope["url_route"]["kwargs"]
        name = route["name"]
        access = await authorize(self.scope.get("user"), route["workspace_id"]) if NAME_PATTERN.match(name) else None
        if access is None:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        workspace, may_write = access
        self._bind_log_context()
        await self.accept()
        if workspace.status != Workspace.Status.READY:
            status = workspace.get_status_display().lower()
            await self._refuse(NOT_FOUND, "workspace_not_ready", f"The workspace is {status}; try once it is ready.")
            return
        self.client = TerminalClient(self, readonly=not may_write)
        self.client.start()
        try:
            self.session = await get_terminal_manager().attach(
                workspace, self.scope["user"], name, self.client, readonly=not may_write
            )
        except TerminalLimitReached as error:
            self._refuse_through_client(LIMIT_REACHED, "limit_reached", str(error))
        except TerminalNotFound as error:
            self._refuse_through_client(NOT_FOUND, "no_such_terminal", str(error))
        except TerminalUnavailable as error:
            self._refuse_through_client(INTERNAL_ERROR, "terminal_unavailable", str(error))

    async def receive(self, text_data=None, bytes_data=None):
        if self.session is None:
            return
        if bytes_data is not None:
            if len(bytes_data) > MAX_BINARY_FRAME_BYTES:
                self.client.notice("error", f"Input frames are limited to {MAX_BINARY_FRAME_BYTES} bytes.", "too_large")
            else:
                self.session.write(self.client, bytes_data)
            return
        if len(text_data) > MAX_TEXT_FRAME_BYTES // 4 and len(text_data.encode()) > MAX_TEXT_FRAME_BYTES:
            self.client.notice("error", f"Text frames are limited to {MAX_TEXT_FRAME_BYTES} bytes.", "too_large")
            return
        try:
            message = parse_control_message(text_data)
        except ControlMessageError as error:
            self.client.notice("error", str(error), "invalid_message")
            return
        self.session.control(self.client, message)

    async def disconnect(self, code):
        if self.session is not None:
            get_terminal_manager().detach(self.session, self.client)
        if self.client is not None:
            self.client.stop()

    # Helpers ----------------------------------------------------------------------------
    async def _refuse(self, code: int, reason: str, message: str) -> None:
        await self.send(text_data=json.dumps({"type": "notice", "level": "error", "message": message, "code": reason}))
        await self.close(code=code)

    def _refuse_through_client(self, code: int, reason: str, message: str) -> None:
        # Through the outbox, so the notice cannot overtake anything already queued.
        self.client.notice("error", message, reason)
        self.client.close(code)

    def _bind_log_context(self) -> None:
        # Audit rows take the ip and user agent from the structlog context, as for HTTP requests.
        headers = dict(self.scope.get("headers") or [])
        client = self.scope.get("client") or [None]
        structlog.contextvars.bind_contextvars(
            ip=client[0], user_agent=headers.get(b"user-agent", b"").decode("latin-1")
        )
