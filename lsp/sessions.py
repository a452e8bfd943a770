"""Language-server sessions: one server process per (workspace, user, server), supervised, bridged.

The protocol is written down in docs/protocols.md ("language servers"). A
session owns its process across sockets: the browser may reconnect, reload or
open the IDE in another tab, and the server keeps its analysis. To make that
work the bridge keeps a few facts about the conversation:

- **Request ids.** Each client numbers its requests from zero, so the ids of a
  client are sent to the server prefixed with the client's generation
  (``"3:17"``) and mapped back on the response. Responses to a client that has
  gone are dropped.
- **Initialization.** The first client's ``initialize`` goes to the server and
  its result is kept; a later client gets that result at once, its
  ``initialized`` is swallowed, and the server's dynamic registrations are
  replayed to it.
- **Documents.** The documents a client opened are closed for it when it goes,
  and requests the server sent it are answered, so the server never waits on a
  socket that is gone.

Supervision: a server that exits on its own is restarted after an exponential
backoff with jitter, at most ``max_restarts`` times within ``restart_window``
seconds, after which the session is "failed" until someone restarts it. Every
restart closes the attached socket with 4001 so the client starts afresh.
"""

import asyncio
import contextlib
import json
import logging
import logging.handlers
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from lsp import metrics
from lsp.framing import FramingError, MessageReader, frame
from lsp.paths import OutsideWorkspaceError, PathMapper
from lsp.servers import ServerSpec, path_roots
from platform_core import json_limits, websocket_limits
from platform_core.background import BackgroundTasks
from platform_core.close_codes import FAILED, REPLACED, RESTART
from workspaces.runtime.base import InputOverflowError, RuntimeProcess

logger = structlog.get_logger(__name__)

STARTING, RUNNING, RESTARTING, FAILED_STATE, STOPPED = "starting", "running", "restarting", "failed", "stopped"
STATES = (STARTING, RUNNING, RESTARTING, FAILED_STATE, STOPPED)
STOP_GRACE_SECONDS = 2.0
# Servers write "jsonrpc", then "id" (requests, responses), then "method",
# "result" or "error" first (vscode-jsonrpc and Rust's lsp-server alike), so
# the head of a message says what it is without parsing a large result.
_HEAD = re.compile(
    rb'\A\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*'
    rb'(?:"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,20})\s*,\s*)?'
    rb'"(method|result|error)"\s*:\s*(?:"([^"\\]{1,200})")?'
)
_NOT_PENDING = object()
JSONRPC_INVALID_REQUEST = -32600
JSONRPC_REQUEST_FAILED = -32803


@dataclass(frozen=True)
class Policy:
    idle_ttl: float
    max_restarts: int
    restart_window: float
    backoff_base: float
    backoff_max: float
    max_message_bytes: int
    frame_log_size: int
    trace_payloads: bool
    stderr_max_bytes: int
    json_max_depth: int  # of a browser's message
    websocket_max_message_bytes: int  # daphne sends nothing larger to the browser


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before restart number ``attempt`` (1-based): base * 2^(attempt-1), capped, jittered to 50-100 %."""
    delay = min(cap, base * (2 ** (attempt - 1)))
    return delay * (0.5 + 0.5 * (rng or random).random())


@dataclass
class FrameRecord:
    """Metadata of one bridged message (never the payload unless tracing is on)."""

    at: float
    direction: str  # "client" (browser -> server) or "server"
    method: str | None
    id: Any
    bytes: int
    latency_ms: float | None = None  # responses: time since the request was bridged
    payload: str | None = None

    def as_dict(self) -> dict[str, Any]:
        record = {
            "at": self.at,
            "direction": self.direction,
            "method": self.method,
            "id": self.id,
            "bytes": self.bytes,
            "latency_ms": self.latency_ms,
        }
        if self.payload is not None:
            record["payload"] = self.payload
        return record


class LspClient:
    """One WebSocket attached to a session: an ordered outbox of text frames and a final close.

    ``transport`` is the consumer (``send(text_data=...)``, ``close(code=...)``).
    """

    def __init__(self, transport, *, generation: int):
        self.transport = transport
        self.generation = generation
        self.gone = False
        self.closing = False
        self._outbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._drain())

    def send(self, text: str) -> None:
        if not (self.gone or self.closing):
            self._outbox.put_nowait(("text", text))

    def close(self, code: int, reason: str = "") -> None:
        if not (self.gone or self.closing):
            self.closing = True
            self._outbox.put_nowait(("close", (code, reason)))

    def stop(self) -> None:
        self.gone = True
        if not self._writer.done():
            self._writer.cancel()

    async def _drain(self) -> None:
        try:
            while True:
                kind, payload = await self._outbox.get()
                if kind == "text":
                    await self.transport.send(text_data=payload)
                else:
                    code, reason = payload
                    await self.transport.close(code=code, reason=reason[:120] or None)
                    return
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the socket went away; its disconnect detaches it
            logger.info("lsp_client_send_failed", error=str(error))


class LanguageServerSession:
    """A supervised language server of one user in one workspace, and the socket attached to it."""

    def __init__(
        self,
        *,
        workspace_id: int,
        user_id: int,
        username: str,
        spec: ServerSpec,
        runtime,
        process_root: str,
        env: dict[str, str],
        policy: Policy,
        log_path: Path,
        on_finished: Callable[["LanguageServerSession"], None],
    ):
        self.workspace_id = workspace_id
        self.user_id = user_id
        self.username = username
        self.spec = spec
        self.runtime = runtime
        self.process_root = process_root  # the workspace's root as the server sees it
        self.env = env
        self.policy = policy
        self.mapper = PathMapper(path_roots(spec, process_root))
        self.loop = asyncio.get_running_loop()
        self.state = STARTING
        self.process: RuntimeProcess | None = None
        self.client: LspClient | None = None
        self.restarts = 0
        self.crash_times: deque[float] = deque()
        self.last_exit_code: int | None = None
        self.last_error: str | None = None
        self.started_at: float | None = None
        self.last_activity = time.monotonic()
        self.frames: deque[FrameRecord] = deque(maxlen=policy.frame_log_size)
        self.ready = asyncio.Event()  # set while a process runs (or the session failed or stopped)
        self.failed = asyncio.Event()  # set while the session is in the failed state
        self.finished = asyncio.Event()
        self.idle_handle: asyncio.TimerHandle | None = None
        self._on_finished = on_finished
        self._generation = 0
        self._stopping = False  # an intentional stop or restart is under way
        self._restart_handle: asyncio.TimerHandle | None = None
        self._tasks = BackgroundTasks("lsp_session")  # exit watchers, delayed restarts
        self._stderr_logger = _stderr_logger(log_path, policy.stderr_max_bytes)
        self._reset_conversation()
        metrics.SESSIONS.labels(spec.name, STARTING).inc()

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        name = f"{self.spec.name} ws={self.workspace_id} user={self.user_id}"
        return f"<LanguageServerSession {name} {self.state} pid={pid}>"

    def _reset_conversation(self) -> None:
        """Forget what the bridge knew of the server's conversation (a new process starts blank)."""
        self._reader = MessageReader(self.policy.max_message_bytes)
        self._initialize_result: Any = None
        self._initialize_request: str | None = None  # the server-side id of the initialize in flight
        self._pending_client: dict[str, tuple[int, Any, str, float]] = {}  # server id -> (gen, id, method, t0)
        self._pending_server: dict[str, Any] = {}  # requests the server sent the browser -> fallback answer
        self._registrations: dict[str, dict] = {}  # dynamic registrations by id, for later clients
        self._open_documents: set[str] = set()
        self._swallow_initialized = False
        self._bridge_ids = 0

    # State -------------------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state == FAILED_STATE:
            self.failed.set()
        else:
            self.failed.clear()
        if state != self.state:
            metrics.SESSIONS.labels(self.spec.name, self.state).dec()
            metrics.SESSIONS.labels(self.spec.name, state).inc()
            self.state = state

    @property
    def is_finished(self) -> bool:
        return self.finished.is_set()

    def health(self) -> dict[str, Any]:
        process = self.process if self.process is not None and self.process.is_running() else None
        return {
            "workspace_id": self.workspace_id,
            "server": self.spec.name,
            "user": self.username,
            "state": self.state,
            "running": process is not None,
            "pid": process.pid if process else None,
            "restarts": self.restarts,
            "last_exit_code": self.last_exit_code,
            "last_error": self.last_error,
            "started_at": self.started_at,
            "last_activity_seconds_ago": round(time.monotonic() - self.last_activity, 1),
            "memory_bytes": process.memory_bytes() if process else None,
            "client_attached": self.client is not None,
        }

    # Process lifetime ------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the server process; on failure the session counts it as a crash."""
        self._set_state(STARTING if self.restarts == 0 else RESTARTING)
        self.ready.clear()
        self._reset_conversation()
        try:
            process = await self.runtime.spawn(self.workspace_id, self.spec.argv, tty=False, env=self.env)
        except (OSError, RuntimeError) as error:
            # A missing program or workspace does not fix itself: no retries.
            self._give_up(f"It could not start ({error}).")
            return
        # Room for two of the largest messages a browser may send (a didOpen of
        # a large file and what follows it) while the server reads the first.
        process.max_pending_input_bytes = 2 * websocket_limits.LSP_MESSAGE_BYTES
        self.process = process
        self.started_at = time.time()
        self.last_error = None
        process.start_reading(self._on_output)
        self._tasks.start(self._watch(process))
        self._set_state(RUNNING)
        self.ready.set()
        logger.info("lsp_started", server=self.spec.name, workspace_id=self.workspace_id, pid=process.pid)

    async def _watch(self, process: RuntimeProcess) -> None:
        code = await process.wait()
        if process is not self.process:
            return
        self.last_exit_code = code
        self.process = None
        if self._stopping or self.is_finished:
            return
        logger.warning("lsp_exited", server=self.spec.name, workspace_id=self.workspace_id, code=code)
        self._crashed(code)

    def _crashed(self, code: int) -> None:
        """The server ended on its own: restart it after a backoff, or give up."""
        self.ready.clear()
        self._close_client(RESTART, "The language server stopped; reconnecting.")
        now = time.monotonic()
        self.crash_times.append(now)
        while self.crash_times and now - self.crash_times[0] > self.policy.restart_window:
            self.crash_times.popleft()
        if len(self.crash_times) > self.policy.max_restarts:
            self._give_up(
                self.last_error
                or f"The server exited {len(self.crash_times)} times within {self.policy.restart_window:g} s "
                f"(last exit code {code}); restart it when the cause is fixed."
            )
            return
        self._set_state(RESTARTING)
        delay = backoff_delay(len(self.crash_times), self.policy.backoff_base, self.policy.backoff_max)
        self.restarts += 1
        metrics.RESTARTS.labels(self.spec.name, "crash").inc()
        self._restart_handle = self.loop.call_later(delay, lambda: self._tasks.start(self.start()))

    def _give_up(self, reason: str) -> None:
        """The "failed" state: no more restarts until someone asks for one."""
        self.last_error = reason
        self._set_state(FAILED_STATE)
        metrics.GIVE_UPS.labels(self.spec.name).inc()
        logger.error("lsp_gave_up", server=self.spec.name, workspace_id=self.workspace_id, reason=reason)
        self.ready.set()  # waiters see the failure

    async def restart(self, reason: str) -> None:
        """Replace the server process now (a user's request, a package change); clears a failed state."""
        if self.is_finished:
            return
        if self._restart_handle is not None:
            self._restart_handle.cancel()
            self._restart_handle = None
        self.crash_times.clear()
        self.restarts += 1
        metrics.RESTARTS.labels(self.spec.name, reason).inc()
        self._set_state(RESTARTING)
        self._close_client(RESTART, "The language server restarts; reconnecting.")
        await self._stop_process()
        if not self.is_finished:
            await self.start()

    async def stop(self, outcome: str) -> None:
        """End the session for good: shut the server down politely, then by signal."""
        if self.is_finished:
            return
        if self._restart_handle is not None:
            self._restart_handle.cancel()
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        self._close_client(RESTART if outcome == "shutdown" else FAILED, "The language server was stopped.")
        await self._stop_process()
        self._set_state(STOPPED)
        metrics.SESSIONS.labels(self.spec.name, STOPPED).dec()
        self.ready.set()
        self.finished.set()
        logger.info("lsp_stopped", server=self.spec.name, workspace_id=self.workspace_id, outcome=outcome)
        self._on_finished(self)

    async def _stop_process(self) -> None:
        process = self.process
        if process is None or not process.is_running():
            return
        self._stopping = True
        try:
            self._write_to_server({"jsonrpc": "2.0", "id": "bridge:shutdown", "method": "shutdown"})
            self._write_to_server({"jsonrpc": "2.0", "method": "exit"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), STOP_GRACE_SECONDS)
            await process.terminate(STOP_GRACE_SECONDS)
        finally:
            self._stopping = False
            self.process = None

    # Clients -------------------------------------------------------------------------------------------
    def attach(self, transport) -> LspClient:
        """Attach a socket; a socket already attached is closed with REPLACED (the newest wins)."""
        if self.client is not None:
            previous = self.client
            self.detach(previous)
            previous.close(REPLACED, "This editor was opened elsewhere.")
        if self.idle_handle is not None:
            self.idle_handle.cancel()
            self.idle_handle = None
        self._generation += 1
        self.client = LspClient(transport, generation=self._generation)
        self._swallow_initialized = self._initialize_result is not None
        self.last_activity = time.monotonic()
        return self.client

    def detach(self, client: LspClient) -> None:
        """The socket went: close its documents, answer what the server asked it, forget its requests."""
        if client is not self.client:
            return
        self.client = None
        for server_id, (generation, _, _, _) in list(self._pending_client.items()):
            if generation == client.generation:
                del self._pending_client[server_id]
                self._write_to_server({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": server_id}})
        for request_id in list(self._pending_server):
            self._answer_server(request_id)
        for uri in sorted(self._open_documents):
            self._write_to_server(
                {"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": {"uri": uri}}}
            )
        self._open_documents.clear()

    def _close_client(self, code: int, reason: str) -> None:
        client = self.client
        if client is not None:
            self.detach(client)
            client.close(code, reason)

    # Browser -> server ------------------------------------------------------------------------------------
    def from_client(self, client: LspClient, text: str) -> None:
        """One text frame from the browser: validated, mapped and written to the server."""
        if client is not self.client:
            return
        started = time.perf_counter()
        self.last_activity = time.monotonic()
        try:
            message = json_limits.loads(text, max_depth=self.policy.json_max_depth)
        except json_limits.JsonLimitError as error:
            self._reply_error(client, None, JSONRPC_INVALID_REQUEST, str(error))
            return
        except ValueError:
            self._reply_error(client, None, JSONRPC_INVALID_REQUEST, "Frames must be JSON-RPC messages.")
            return
        if not isinstance(message, dict):
            self._reply_error(client, None, JSONRPC_INVALID_REQUEST, "A JSON-RPC message is a JSON object.")
            return
        method = message.get("method")
        request_id = message.get("id")
        is_request = method is not None and "id" in message
        if method is not None and not isinstance(method, str):
            self._reply_error(client, request_id, JSONRPC_INVALID_REQUEST, "method must be a string.")
            return
        self._record("client", method, request_id, len(text), payload=text)

        # The session, not the browser, decides when the server ends.
        if method == "shutdown":
            if is_request:
                client.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": None}))
            return
        if method == "exit":
            return
        if method == "initialized" and self._swallow_initialized:
            self._swallow_initialized = False
            return
        if method == "initialize" and is_request and self._initialize_result is not None:
            client.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": self._initialize_result}))
            self._replay_registrations(client)
            return

        try:
            message = self.mapper.to_server(message)
        except OutsideWorkspaceError as error:
            if is_request:
                self._reply_error(client, request_id, JSONRPC_REQUEST_FAILED, str(error))
            return
        if method is None and "id" in message:  # the browser answers a request of the server
            if self._pending_server.pop(json.dumps(request_id), _NOT_PENDING) is _NOT_PENDING:
                return  # one of the bridge's own (a replayed registration), or answered already
        elif is_request:
            server_id = f"{client.generation}:{json.dumps(request_id)}"
            self._pending_client[server_id] = (client.generation, request_id, method, time.monotonic())
            message["id"] = server_id
            if method == "initialize":
                self._initialize_request = server_id
        elif method == "textDocument/didOpen":
            uri = ((message.get("params") or {}).get("textDocument") or {}).get("uri")
            if isinstance(uri, str):
                self._open_documents.add(uri)
        elif method == "textDocument/didClose":
            uri = ((message.get("params") or {}).get("textDocument") or {}).get("uri")
            self._open_documents.discard(uri)
        elif method == "$/cancelRequest":
            params = message.get("params") or {}
            params["id"] = f"{client.generation}:{json.dumps(params.get('id'))}"
        self._write_to_server(message)
        metrics.MESSAGES.labels(self.spec.name, "client").inc()
        metrics.BRIDGE_SECONDS.labels("client").observe(time.perf_counter() - started)

    def _write_to_server(self, message: dict) -> None:
        process = self.process
        if process is None or not process.is_running():
            return
        try:
            process.write(frame(json.dumps(message, ensure_ascii=False).encode()))
        except InputOverflowError:
            logger.warning("lsp_input_overflow", server=self.spec.name, workspace_id=self.workspace_id)

    def _reply_error(self, client: LspClient, request_id, code: int, message: str) -> None:
        if request_id is None:
            # Nothing to answer: tell the user through the log channel of LSP.
            client.send(
                json.dumps({"jsonrpc": "2.0", "method": "window/logMessage", "params": {"type": 1, "message": message}})
            )
            return
        client.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}))

    def _answer_server(self, request_id_json: str) -> None:
        """Answer a request the server sent the browser with its fallback (the browser has gone)."""
        if request_id_json in self._pending_server:
            result = self._pending_server.pop(request_id_json)
            self._write_to_server({"jsonrpc": "2.0", "id": json.loads(request_id_json), "result": result})

    def _replay_registrations(self, client: LspClient) -> None:
        if self._registrations:
            self._bridge_ids += 1
            client.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": f"bridge:{self._bridge_ids}",
                        "method": "client/registerCapability",
                        "params": {"registrations": list(self._registrations.values())},
                    }
                )
            )

    # Server -> browser -----------------------------------------------------------------------------------
    def _on_output(self, stream: str, chunk: bytes) -> None:
        if not chunk:
            return
        if stream == "stderr":
            for line in chunk.decode("utf-8", "replace").splitlines():
                self._stderr_logger.info(line)
            return
        try:
            bodies = self._reader.feed(chunk)
        except FramingError as error:
            self.last_error = f"the server wrote invalid output: {error}"
            logger.warning("lsp_framing_error", server=self.spec.name, error=str(error))
            if self.process is not None:
                self.process.kill_now()
            return
        for body in bodies:
            self._from_server(body)

    def _from_server(self, body: bytes) -> None:
        started = time.perf_counter()
        self.last_activity = time.monotonic()
        body = self.mapper.to_client(body)
        kind, method, raw_id, message = _classify(body)
        if kind == "response":
            self._server_response(body, raw_id, message, started)
            return
        if kind == "request":
            self._server_request(body, method, raw_id)
        self._record("server", method, json.loads(raw_id) if raw_id else None, len(body), payload=body)
        if self._too_large_for_client(body, method):
            if kind == "request":
                self._answer_server(raw_id.decode())  # with its fallback, as for a browser that has gone
            return
        self._to_client(body, started)

    def _server_response(self, body: bytes, raw_id: bytes, message: dict | None, started: float) -> None:
        server_id = json.loads(raw_id)
        pending = self._pending_client.pop(server_id, None) if isinstance(server_id, str) else None
        if pending is None:
            return  # ours ("bridge:..."), or for a client that has gone or cancelled
        generation, client_id, method, requested_at = pending
        latency_ms = round((time.monotonic() - requested_at) * 1000, 3)
        if server_id == self._initialize_request:
            message = message or json.loads(body)
            self._initialize_result = message.get("result")
            self._initialize_request = None
        self._record("server", method, client_id, len(body), latency_ms=latency_ms, payload=body)
        client = self.client
        if client is None or client.generation != generation:
            return
        if message is None:
            # The id leads the message (checked by _classify): put the client's own back in place.
            body = body.replace(raw_id, json.dumps(client_id).encode(), 1)
        else:
            message["id"] = client_id
            body = json.dumps(message, ensure_ascii=False).encode()
        if self._too_large_for_client(body, method):
            self._reply_error(client, client_id, JSONRPC_REQUEST_FAILED, "The answer was too large to send.")
            return
        self._to_client(body, started)

    def _server_request(self, body: bytes, method: str, raw_id: bytes) -> None:
        # What to answer for the browser if it goes before it answers.
        fallback: Any = None
        if method in ("client/registerCapability", "client/unregisterCapability", "workspace/configuration"):
            params = json.loads(body).get("params") or {}
            if method == "client/registerCapability":
                for registration in params.get("registrations") or []:
                    if isinstance(registration, dict) and "id" in registration:
                        self._registrations[str(registration["id"])] = registration
            elif method == "client/unregisterCapability":
                for registration in params.get("unregisterations") or []:
                    if isinstance(registration, dict):
                        self._registrations.pop(str(registration.get("id")), None)
            else:
                fallback = [None] * len(params.get("items") or [])
        self._pending_server[raw_id.decode()] = fallback
        if self.client is None:
            self._answer_server(raw_id.decode())

    def _too_large_for_client(self, body: bytes, method: str | None) -> bool:
        """True if daphne would refuse to send ``body`` (it raises, and the socket's writer would stop)."""
        limit = self.policy.websocket_max_message_bytes
        if len(body) <= limit:
            return False
        logger.warning("lsp_message_too_large", server=self.spec.name, method=method, bytes=len(body), limit=limit)
        if self.client is not None:
            self.client.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "method": "window/showMessage",
                        "params": {
                            "type": 2,
                            "message": f"{self.spec.name}: a message of {len(body)} bytes ({method or 'an answer'}) "
                            f"was dropped: messages to the browser are limited to {limit} bytes.",
                        },
                    }
                )
            )
        return True

    def _to_client(self, body: bytes, started: float) -> None:
        client = self.client
        if client is None:
            return
        client.send(body.decode("utf-8", "replace"))
        metrics.MESSAGES.labels(self.spec.name, "server").inc()
        metrics.BRIDGE_SECONDS.labels("server").observe(time.perf_counter() - started)

    # Frame log ---------------------------------------------------------------------------------------------
    def _record(self, direction: str, method, request_id, size: int, *, latency_ms=None, payload=None) -> None:
        if self.frames.maxlen == 0:
            return
        if self.policy.trace_payloads and payload is not None:
            payload = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        else:
            payload = None
        self.frames.append(FrameRecord(time.time(), direction, method, request_id, size, latency_ms, payload))


def _stderr_logger(path: Path, max_bytes: int) -> logging.Logger:
    """A logger writing a server's stderr lines to ``path``, rotated at ``max_bytes`` (3 files kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stderr_logger = logging.getLogger(f"devbench.lsp.stderr.{path}")
    stderr_logger.propagate = False
    stderr_logger.setLevel(logging.INFO)
    if not stderr_logger.handlers:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=2, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        stderr_logger.addHandler(handler)
    return stderr_logger


def close_stderr_logger(path: Path) -> None:
    stderr_logger = logging.getLogger(f"devbench.lsp.stderr.{path}")
    for handler in list(stderr_logger.handlers):
        stderr_logger.removeHandler(handler)
        handler.close()


def _classify(body: bytes) -> tuple[str, str | None, bytes | None, dict | None]:
    """(kind, method, raw id, parsed message if it had to be parsed) of a server message.

    ``kind`` is "request", "response" or "notification". The head is read
    with a regular expression; a message in another key order is parsed.
    """
    match = _HEAD.match(body)
    if match is not None:
        raw_id, key, method = match.group(1), match.group(2).decode(), match.group(3)
        if key == "method" and method is not None:
            return ("request" if raw_id else "notification"), method.decode(), raw_id, None
        if key != "method" and raw_id is not None:
            return "response", None, raw_id, None
    try:
        message = json.loads(body)
    except ValueError:
        return "notification", None, None, None
    if not isinstance(message, dict):
        return "notification", None, None, None
    raw_id = json.dumps(message["id"]).encode() if "id" in message else None
    method = message.get("method") if isinstance(message.get("method"), str) else None
    if method is None:
        return ("response" if raw_id else "notification"), None, raw_id, message
    return ("request" if raw_id else "notification"), method, raw_id, message
