"""The language-server WebSocket (protocol: docs/protocols.md, "language servers").

One JSON-RPC message per text frame, as vscode-ws-jsonrpc and
monaco-languageclient send them. The consumer authorizes before accepting
(edit rights: viewers get no session), then hands frames to the user's
session; the manager and the session own the server process.
"""

import json
from functools import partial

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from lsp.manager import (
    LanguageServerError,
    ServerFailed,
    SessionLimitReached,
    UnknownServer,
    get_language_server_manager,
)
from lsp.servers import SERVER_NAMES
from platform_core import websocket_limits
from platform_core.access import LiveSocket, get_access_watcher
from platform_core.close_codes import FAILED, FORBIDDEN, LIMIT_REACHED, NOT_FOUND
from platform_core.consumers import DirectDispatchMixin
from workspaces.models import Workspace
from workspaces.roles import EDIT_FILES

logger = structlog.get_logger(__name__)

MAX_TEXT_FRAME_BYTES = websocket_limits.LSP_MESSAGE_BYTES  # a whole file in didOpen / didChange fits
INTERNAL_ERROR = 1011
EDIT, VIEW = "edit", "view"  # access levels: a language server needs the right to edit files


def editing_access(user, workspace_id: int) -> tuple[Workspace, str] | None:
    """(workspace, EDIT or VIEW) if ``user`` may see the workspace; None otherwise.

    Checked at connect and again whenever access changes (platform_core.access).
    """
    workspace = Workspace.objects.restrict(user).filter(pk=workspace_id).first()
    if workspace is None:
        return None
    return workspace, EDIT if user.has_perm(f"workspaces.{EDIT_FILES}", workspace) else VIEW


def editing_level(user, workspace_id: int) -> str | None:
    access = editing_access(user, workspace_id)
    return access[1] if access else None


@database_sync_to_async
def authorize(user, workspace_id: int) -> Workspace | None:
    """The workspace if ``user`` may edit its files (viewers get no language server); None otherwise."""
    if user is None or not user.is_authenticated:
        return None
    access = editing_access(user, workspace_id)
    return access[0] if access and access[1] == EDIT else None


class LanguageServerConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    """Translates frames between one WebSocket and a language-server session."""

    session = None
    client = None
    live_socket: LiveSocket | None = None
    revoked = False

    async def connect(self):
        route = self.scope["url_route"]["kwargs"]
        server = route["server"]
        changes_seen = await get_access_watcher().start()
        workspace = await authorize(self.scope.get("user"), route["workspace_id"]) if server in SERVER_NAMES else None
        if workspace is None:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        await self.accept()
        if workspace.status != Workspace.Status.READY:
            await self._refuse(NOT_FOUND, "The workspace is not ready yet.")
            return
        try:
            self.session, self.client = await get_language_server_manager().attach(
                workspace, self.scope["user"], server, self
            )
        except SessionLimitReached as error:
            await self._refuse(LIMIT_REACHED, str(error))
        except UnknownServer as error:
            await self._refuse(NOT_FOUND, str(error))
        except ServerFailed as error:
            await self._refuse(FAILED, str(error))
        except LanguageServerError as error:
            await self._refuse(INTERNAL_ERROR, str(error))
        else:
            socket = LiveSocket.for_scope(
                self.scope,
                kind="lsp",
                workspace_id=workspace.pk,
                level=EDIT,
                rights=partial(editing_level, workspace_id=workspace.pk),
                apply=self._access_changed,
            )
            self.live_socket = get_access_watcher().watch(socket, changes_seen)

    async def receive(self, text_data=None, bytes_data=None):
        if self.session is None or self.client is None or self.revoked:
            return
        if text_data is None:
            self._log_to_client("Binary frames are not part of this protocol; send JSON-RPC as text.")
            return
        if len(text_data) > MAX_TEXT_FRAME_BYTES // 4 and len(text_data.encode()) > MAX_TEXT_FRAME_BYTES:
            self._log_to_client(f"Messages are limited to {MAX_TEXT_FRAME_BYTES} bytes; this one was dropped.")
            return
        self.session.from_client(self.client, text_data)

    async def _access_changed(self, level: str | None, reason: str) -> None:
        """The user lost the right to edit (platform_core.access): say why, close with 4003, stop their server."""
        if level == EDIT or self.revoked or self.session is None:
            return
        self.revoked = True
        message = f"{reason} The language server was stopped for you."
        get_language_server_manager().revoke(self.session, self.client, _log_message(1, message), FORBIDDEN, reason)

    async def disconnect(self, code):
        get_access_watcher().unwatch(self.live_socket)
        if self.session is not None and self.client is not None:
            get_language_server_manager().detach(self.session, self.client)

    async def _refuse(self, code: int, message: str) -> None:
        # A JSON-RPC notification the language client shows, then the close code.
        await self.send(text_data=_log_message(1, message))
        # The close reason is limited to 123 bytes; the full text went above.
        reason = message.encode()[:120].decode("utf-8", "ignore")
        await self.close(code=code, reason=reason)

    def _log_to_client(self, message: str) -> None:
        self.client.send(_log_message(2, message))


def _log_message(level: int, message: str) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "window/showMessage", "params": {"type": level, "message": message}})
