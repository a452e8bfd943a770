"""A test client for the language-server WebSocket: JSON-RPC over text frames, as the IDE speaks it."""

import itertools
import json
import time

from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from platform_core.asgi import application

TIMEOUT = 60  # pyright's first analysis on a busy 2-core machine


def session_cookie(client, user) -> bytes:
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}".encode()


def connect_lsp(workspace_id: int, server: str, cookie: bytes) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"), (b"cookie", cookie)]
    return WebsocketCommunicator(application, f"/ws/workspaces/{workspace_id}/lsp/{server}/", headers=headers)


CLIENT_CAPABILITIES = {
    "textDocument": {
        "publishDiagnostics": {"relatedInformation": True},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "completion": {"completionItem": {"snippetSupport": False}},
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["", "quickfix", "source"]}}},
        "formatting": {},
        "synchronization": {"didSave": True},
    },
    "workspace": {"configuration": True, "workspaceFolders": True},
}


class LanguageClient:
    """Sends requests and notifications; keeps every frame it received (raw, for leak checks)."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.ids = itertools.count(1)
        self.frames: list[str] = []
        self.messages: list[dict] = []
        self.responses: dict = {}
        self.close_code: int | None = None

    async def connect(self) -> tuple[bool, object]:
        return await self.communicator.connect(timeout=TIMEOUT)

    async def send(self, message: dict) -> None:
        await self.communicator.send_to(text_data=json.dumps(message))

    async def notify(self, method: str, params: dict | None = None) -> None:
        await self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    async def request(self, method: str, params: dict | None = None, timeout: float = TIMEOUT):
        """The response message (with "result" or "error") of a request."""
        request_id = next(self.ids)
        await self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        await self.until(lambda: request_id in self.responses, timeout, f"the response to {method}")
        return self.responses[request_id]

    async def _next(self, timeout: float) -> None:
        event = await self.communicator.receive_output(timeout)
        if event["type"] == "websocket.close":
            self.close_code = event.get("code", 1000)
            return
        text = event["text"]
        self.frames.append(text)
        message = json.loads(text)
        self.messages.append(message)
        if "id" in message and "method" not in message:
            self.responses[message["id"]] = message
        elif "id" in message:  # a request of the server: answer as a client would
            await self.send({"jsonrpc": "2.0", "id": message["id"], "result": self._answer(message)})

    @staticmethod
    def _answer(message: dict):
        if message["method"] == "workspace/configuration":
            return [{} for _ in message.get("params", {}).get("items", [])]
        return None

    async def until(self, predicate, timeout: float = TIMEOUT, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if self.close_code is not None:
                raise AssertionError(f"closed ({self.close_code}) while waiting for {what}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; last: {self.messages[-3:]}")
            try:
                await self._next(remaining)
            except TimeoutError:
                continue
        return value

    async def expect_close(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while self.close_code is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("the socket was not closed")
            await self._next(remaining)
        return self.close_code

    async def initialize(self) -> dict:
        response = await self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": "file:///workspace",
                "rootPath": "/workspace",
                "workspaceFolders": [{"uri": "file:///workspace", "name": "workspace"}],
                "capabilities": CLIENT_CAPABILITIES,
            },
        )
        await self.notify("initialized")
        return response

    async def open(self, path: str, text: str, version: int = 1) -> str:
        uri = f"file:///workspace/{path}"
        await self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}},
        )
        return uri

    async def diagnostics(self, uri: str, predicate=lambda diagnostics: True, timeout: float = TIMEOUT) -> list:
        """The latest diagnostics published for ``uri`` that satisfy ``predicate``."""

        def latest():
            for message in reversed(self.messages):
                if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                    diagnostics = message["params"]["diagnostics"]
                    return [diagnostics] if predicate(diagnostics) else None
            return None

        return (await self.until(latest, timeout, f"diagnostics for {uri}"))[0]

    async def disconnect(self) -> None:
        if self.close_code is None:
            await self.communicator.disconnect(timeout=TIMEOUT)
