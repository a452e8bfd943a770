"""The terminal WebSocket (protocol: docs/protocols.md, "terminals")."""

import json
import re
from functools import partial

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from platform_core.access import LiveSocket, get_access_watcher
from platform_core.close_codes import FORBIDDEN, LIMIT_REACHED, NOT_FOUND
from platform_core.consumers import DirectDispatchMixin
from terminal.manager import TerminalLimitReached, TerminalNotFound, TerminalUnavailable, get_terminal_manager
from terminal.permissions import WRITE, terminal_access, terminal_level
from terminal.sessions import (
    MAX_BINARY_FRAME_BYTES,
    MAX_TEXT_FRAME_BYTES,
    ControlMessageError,
    TerminalClient,
    parse_control_message,
)
from workspaces.models import Workspace

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
INTERNAL_ERROR = 1011  # RFC 6455: the server could not fulfil the request


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
    live_socket: LiveSocket | None = None

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
        changes_seen = await get_access_watcher().start()
        access = (
            await database_sync_to_async(terminal_access)(self.scope.get("user"), route["workspace_id"])
            if NAME_PATTERN.match(name)
            else None
        )
        if access is None:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        workspace, level = access
        may_write = level == WRITE
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
        else:
            socket = LiveSocket.for_scope(
                self.scope,
                kind="terminal",
                workspace_id=workspace.pk,
                level=level,
                rights=partial(terminal_level, workspace_id=workspace.pk),
                apply=self._access_changed,
            )
            self.live_socket = get_access_watcher().watch(socket, changes_seen)

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

    async def _access_changed(self, level: str | None, reason: str) -> None:
        """Access changed while attached (platform_core.access): detach with 4003, or change what it may do."""
        if self.session is None:
            return
        if level is None:
            session, self.session = self.session, None  # frames that still arrive reach no shell
            get_terminal_manager().detach(session, self.client)  # the shell stays for everyone else
            message = f"{reason} This terminal was disconnected for you."
            self._refuse_through_client(FORBIDDEN, "access_revoked", message)
            return
        readonly = level != WRITE
        effect = "This terminal is now read-only for you." if readonly else "You can now type in this terminal."
        self.session.change_client_access(self.client, readonly=readonly, message=f"{reason} {effect}")

    async def disconnect(self, code):
        get_access_watcher().unwatch(self.live_socket)
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
