"""Message sizes and hostile JSON on every WebSocket route, through the real daphne server.

daphne runs as the platform runs it (platform_core/daphne_server.py), and a
real WebSocket client sends what a browser could: frames just over a route's
limit, frames over the server's limit, JSON nested thousands deep, binary
frames where text belongs. Each must get the answer docs/protocols.md
promises, and the socket must go on answering afterwards.
"""

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings

from lsp import manager as manager_module
from platform_core import websocket_limits
from tests.conftest import make_ready
from tests.lsp_client import LanguageClient, connect_lsp
from tests.lsp_client import session_cookie as communicator_cookie
from workspaces.environment.watcher import EnvironmentWatcher

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60  # a language server's start on a busy machine
PROTOCOLS = Path(__file__).resolve().parent.parent / "docs" / "protocols.md"
DEEP_JSON = "[" * 5000 + "]" * 5000  # deep enough for RecursionError in json.loads, small enough for any route


# The documentation states each limit once, and states the code's ----------------------------------------


def documented_sizes() -> dict[str, int]:
    """The "Message sizes" table of docs/protocols.md: first column -> bytes."""
    section = PROTOCOLS.read_text().split("## Message sizes", 1)[1].split("\n## ", 1)[0]
    units = {"bytes": 1, "KiB": 1024, "MiB": 1024 * 1024}
    sizes = {}
    for row in re.finditer(r"^\| (.+?) \| (\d+) (bytes|KiB|MiB)\b.*\|$", section, re.MULTILINE):
        sizes[row.group(1).strip()] = int(row.group(2)) * units[row.group(3)]
    return sizes


def test_the_documented_limits_are_the_ones_in_the_code():
    documented = documented_sizes()
    in_code = {f"`{route}` {frame}": limit for (route, frame), limit in websocket_limits.ROUTE_LIMITS.items()}
    in_code["every route, any frame (`WEBSOCKET_MAX_MESSAGE_BYTES`)"] = (
        websocket_limits.DEFAULT_SERVER_MAX_MESSAGE_BYTES
    )
    in_code["files open without language servers above (`EDITOR_LSP_MAX_BYTES`)"] = django_settings.EDITOR_LSP_MAX_BYTES
    in_code["files open read-only above (`EDITOR_EDIT_MAX_BYTES`)"] = django_settings.EDITOR_EDIT_MAX_BYTES

    assert documented == in_code
    assert django_settings.WEBSOCKET_MAX_MESSAGE_BYTES > websocket_limits.LARGEST_ROUTE_LIMIT
    assert f"`JSON_MAX_DEPTH` ({django_settings.JSON_MAX_DEPTH})" in PROTOCOLS.read_text()


def test_the_routes_sections_refer_to_the_table_instead_of_restating_it():
    text = PROTOCOLS.read_text()
    elsewhere = text.replace(text.split("## Message sizes", 1)[1].split("\n## ", 1)[0], "")

    assert not re.findall(r"at most \d+ [KM]iB|\d+ [KM]iB per (?:frame|message)", elsewhere)


# Routes, as a client sees them ------------------------------------------------------------------------------


@dataclass
class Route:
    """How to reach one route, what it answers a valid message with, and how it refuses frames."""

    name: str
    path: str
    valid: str  # a message the route answers
    answer: object  # predicate on a parsed message: the answer to ``valid``
    refusals: dict  # "too_large" | "not_json" | "binary" -> predicate on the route's notice

    def url(self, base_url: str, workspace_id: int) -> str:
        return base_url.replace("http", "ws", 1) + self.path.format(id=workspace_id)


def error(code):
    return lambda message: message.get("type") == "error" and message.get("code") == code


def notice(code):
    return lambda message: message.get("type") == "notice" and message.get("code") == code


def lsp_method(method):
    return lambda message: message.get("method") == method


JSON_ROUTE_REFUSALS = {
    "too_large": error("too_large"),
    "not_json": error("invalid_message"),
    "binary": error("invalid_message"),
}
ROUTES = {
    "ping": Route(
        "ping", "/ws/ping/", json.dumps({"type": "ping"}), lambda m: m.get("type") == "pong", JSON_ROUTE_REFUSALS
    ),
    "terminal": Route(
        "terminal",
        "/ws/workspaces/{id}/terminals/limits/",
        json.dumps({"type": "ping"}),
        lambda m: m == {"type": "pong"},
        {"too_large": notice("too_large"), "not_json": notice("invalid_message")},
    ),
    "runner": Route(
        "runner",
        "/ws/workspaces/{id}/runner/",
        json.dumps({"type": "run"}),  # neither path nor code: answered without starting anything
        error("invalid"),
        JSON_ROUTE_REFUSALS,
    ),
    "lsp": Route(
        "lsp",
        "/ws/workspaces/{id}/lsp/ruff/",
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": "shutdown"}),  # the bridge answers it itself
        lambda m: m.get("id") == 7 and "result" in m,
        # Broken JSON is answered through LSP's log channel; sizes and binary frames on screen.
        {
            "too_large": lsp_method("window/showMessage"),
            "not_json": lsp_method("window/logMessage"),
            "binary": lsp_method("window/showMessage"),
        },
    ),
    "events": Route(
        "events",
        "/ws/workspaces/{id}/events/",
        json.dumps({"type": "ping"}),
        lambda m: m == {"type": "pong"},
        JSON_ROUTE_REFUSALS,
    ),
}
ROUTE_OF_PATH = {
    "/ws/ping/": "ping",
    "/ws/workspaces/<id>/terminals/<name>/": "terminal",
    "/ws/workspaces/<id>/runner/": "runner",
    "/ws/workspaces/<id>/lsp/<server>/": "lsp",
    "/ws/workspaces/<id>/events/": "events",
}


@pytest.fixture
def workspace(personas):
    make_ready(personas.workspace)
    return personas.workspace


@pytest.fixture
def cookie(client, personas) -> str:
    client.force_login(personas.editor)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
async def connect(platform_server, workspace, cookie):
    """``await connect(route)``: a websockets client on the real server, signed in as the editor."""
    sockets = []

    async def connect_(route: Route):
        socket = await websockets.connect(
            route.url(platform_server.base_url, workspace.pk),
            origin=platform_server.base_url,
            additional_headers={"Cookie": cookie},
            compression=None,
            max_size=None,
            open_timeout=TIMEOUT,
        )
        sockets.append(socket)
        return socket

    yield connect_
    for socket in sockets:
        await socket.close()


async def receive_until(socket, predicate, what: str, timeout: float = TIMEOUT) -> dict:
    """The first text message matching ``predicate`` (binary frames, such as terminal output, are skipped)."""
    seen = []

    async def next_match():
        while True:
            frame = await socket.recv()
            if isinstance(frame, bytes):
                continue
            message = json.loads(frame)
            seen.append(message)
            if predicate(message):
                return message

    try:
        return await asyncio.wait_for(next_match(), timeout)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout}s; received {seen[-5:]}") from None


async def still_answers(socket, route: Route) -> None:
    await socket.send(route.valid)
    await receive_until(socket, route.answer, f"answer of the {route.name} route")


# Sizes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "frame"),
    list(websocket_limits.ROUTE_LIMITS),
    ids=[f"{ROUTE_OF_PATH[p]}-{f}" for p, f in websocket_limits.ROUTE_LIMITS],
)
async def test_a_frame_over_its_routes_limit_gets_the_routes_notice_and_the_session_goes_on(connect, path, frame):
    route = ROUTES[ROUTE_OF_PATH[path]]
    limit = websocket_limits.ROUTE_LIMITS[(path, frame)]
    socket = await connect(route)

    await socket.send(b"y" * (limit + 1) if frame == "binary" else "x" * (limit + 1))

    await receive_until(socket, route.refusals["too_large"], "the too_large notice")
    await still_answers(socket, route)


async def test_a_message_over_the_servers_limit_closes_the_socket_with_1009(connect):
    socket = await connect(ROUTES["ping"])
    await receive_until(socket, lambda m: m.get("type") == "hello", "hello")

    await socket.send("x" * (django_settings.WEBSOCKET_MAX_MESSAGE_BYTES + 1))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), TIMEOUT)

    assert closed.value.rcvd is not None, "the server dropped the connection without a close frame"
    assert closed.value.rcvd.code == websocket_limits.MESSAGE_TOO_BIG


async def test_a_2_mb_lsp_frame_passes_daphne_and_reaches_the_language_server(connect):
    # The finding: over daphne's old 1 MiB default a frame dropped the connection
    # (1006) and the IDE's language clients reconnected in a loop.
    route = ROUTES["lsp"]
    socket = await connect(route)
    await socket.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}))
    await receive_until(socket, lambda m: m.get("id") == 1, "initialize result")
    await socket.send(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))

    await socket.send(b"\0" * 2_000_000)
    shown = await receive_until(socket, lambda m: m.get("method") == "window/showMessage", "showMessage")
    source = "import os\n" + "value = 1\n" * 200_000  # 2 MB: one unused import to report
    uri = "file:///workspace/large.py"
    document = {"uri": uri, "languageId": "python", "version": 1, "text": source}
    await socket.send(
        json.dumps({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}})
    )
    diagnostics = await receive_until(
        socket,
        lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri,
        "diagnostics of the 2 MB file",
    )

    assert "Binary frames" in shown["params"]["message"]
    assert any(d.get("code") == "F401" for d in diagnostics["params"]["diagnostics"])
    await still_answers(socket, route)


# JSON the routes cannot take ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ROUTES))
async def test_deep_or_broken_json_gets_invalid_message_and_the_session_goes_on(connect, name):
    route = ROUTES[name]
    socket = await connect(route)
    bad_frames = [DEEP_JSON, '{"type": "ping"', json.dumps({"nested": json.loads("[" * 100 + "]" * 100)})]

    for frame in bad_frames:
        await socket.send(frame)
        await receive_until(socket, route.refusals["not_json"], f"the refusal of {frame[:20]!r}")

    await still_answers(socket, route)


@pytest.mark.parametrize("name", ["ping", "runner", "lsp", "events"])
async def test_a_binary_frame_on_a_text_route_is_refused_and_the_session_goes_on(connect, name):
    route = ROUTES[name]
    socket = await connect(route)

    await socket.send(b"\x01\x02")

    await receive_until(socket, route.refusals["binary"], "the refusal of a binary frame")
    await still_answers(socket, route)


# What the bridge sends the browser obeys the same limit ------------------------------------------------------


@pytest.fixture
async def lsp_manager(monkeypatch):
    watcher = EnvironmentWatcher(poll_interval=0.1)
    fresh = manager_module.LanguageServerManager(environment_watcher=watcher)
    monkeypatch.setattr(manager_module.MANAGER, "instance", fresh)
    yield fresh
    await fresh.close_all()
    await watcher.close()


async def test_an_answer_too_large_for_the_socket_becomes_an_error_and_the_session_goes_on(
    client, personas, workspace, lsp_manager, settings
):
    # daphne refuses to send a message over its limit, and the socket's writer
    # used to stop there: every later message was lost on an open socket.
    settings.WEBSOCKET_MAX_MESSAGE_BYTES = 200  # below the initialize result (the server's capabilities)
    cookie = await sync_to_async(communicator_cookie)(client, personas.editor)
    lsp = LanguageClient(connect_lsp(workspace.pk, "ruff", cookie))
    connected, _ = await lsp.connect()

    response = await lsp.request("initialize", {"capabilities": {}})
    shutdown = await lsp.request("shutdown")

    assert connected
    assert response["error"]["message"] == "The answer was too large to send."
    assert any(m.get("method") == "window/showMessage" for m in lsp.messages)
    assert shutdown["result"] is None
    await lsp.disconnect()
