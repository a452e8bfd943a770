"""Terminal sessions: one shell in a PTY and the WebSockets attached to it.

The protocol they speak is written down in docs/protocols.md ("terminals").
Everything here runs on the event loop: the PTY is read through the runtime's
reader callbacks, and each client's frames leave through its own outbox task,
so a slow socket never blocks the shell or the other clients.
"""

import asyncio
import json
import re
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from django.conf import settings

from platform_core import json_limits, websocket_limits
from platform_core.close_codes import RESTART
from terminal import metrics
from workspaces.runtime.base import InputOverflowError, RuntimeProcess

logger = structlog.get_logger(__name__)

# Protocol limits (docs/protocols.md).
MAX_TEXT_FRAME_BYTES = websocket_limits.TERMINAL_CONTROL_BYTES
MAX_BINARY_FRAME_BYTES = websocket_limits.TERMINAL_INPUT_BYTES
MAX_DIMENSION = 1000
REPLAY_FRAME_BYTES = 64 * 1024
# Output queued for a client while a send is in flight leaves as one frame of at most this.
MAX_OUTPUT_FRAME_BYTES = 256 * 1024
SIGNALS = {
    name: getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGKILL", "SIGQUIT", "SIGTSTP", "SIGCONT")
}
NORMAL_CLOSURE = 1000


# Control messages ------------------------------------------------------------------


class ControlMessageError(ValueError):
    """A text frame that is not a valid control message; the text is shown to the user."""


_CONTROL_FIELDS = {
    "resize": {"type", "cols", "rows"},
    "signal": {"type", "name"},
    "ack": {"type", "bytes"},
    "ping": {"type"},
    "close": {"type"},
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_control_message(text: str) -> dict[str, Any]:
    """The validated control message in ``text``; raises ``ControlMessageError``."""
    try:
        message = json_limits.loads(text, max_depth=settings.JSON_MAX_DEPTH)
    except json_limits.JsonLimitError as error:
        raise ControlMessageError(str(error)) from None
    except ValueError:
        raise ControlMessageError("Text frames must be JSON control messages.") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ControlMessageError('A control message is a JSON object with a "type".')
    kind = message["type"]
    if kind not in _CONTROL_FIELDS:
        raise ControlMessageError(f"Unknown message type {kind[:40]!r}; expected one of {', '.join(_CONTROL_FIELDS)}.")
    unexpected = sorted(set(message) - _CONTROL_FIELDS[kind])
    if unexpected:
        raise ControlMessageError(f"Unexpected field(s) in {kind}: {', '.join(unexpected)[:100]}.")
    if kind == "resize":
        for field in ("cols", "rows"):
            if not _is_int(message.get(field)) or not 1 <= message[field] <= MAX_DIMENSION:
                raise ControlMessageError(f"resize needs {field} between 1 and {MAX_DIMENSION}.")
    elif kind == "signal" and message.get("name") not in SIGNALS:
        raise ControlMessageError(f"signal name must be one of {', '.join(SIGNALS)}.")
    elif kind == "ack" and (not _is_int(message.get("bytes")) or not 0 <= message["bytes"] <= 1 << 40):
        raise ControlMessageError("ack needs bytes, a count of bytes >= 0.")
    return message


# Replay --------------------------------------------------------------------------------

RESET = b"\x1bc"
ENTER_ALTERNATE_SCREEN = b"\x1b[?1049h"
_MARKER = re.compile(rb"\x1bc|\x1b\[[23]J|\x1b\[\?(?:1049|1047|47)[hl]")
_CURSOR_OR_CLEAR_AT_END = re.compile(rb"(?:\x1b\[[0-9;]*H|\x1b\[[23]J)\Z")
# Longest marker minus one: what a chunk boundary can split.
_MARKER_CARRY = 7
# How far into a truncated buffer to look for the first line start.
_LINE_SEARCH_BYTES = 4096


def _marker_kind(marker: bytes) -> str:
    if marker == RESET:
        return "reset"
    if marker.endswith(b"J"):
        return "clear"
    return "enter" if marker.endswith(b"h") else "leave"


def alternate_screen_after(data: bytes, alternate_screen: bool) -> bool:
    """Whether the terminal is in the alternate screen after ``data``, starting from ``alternate_screen``."""
    for match in _MARKER.finditer(data):
        kind = _marker_kind(match.group())
        if kind in ("enter", "leave", "reset"):
            alternate_screen = kind == "enter"
    return alternate_screen


def _line_start(buffer: bytes) -> int:
    """Where whole output starts in a buffer cut at an arbitrary byte: after the first newline
    (skipping a partial line or escape sequence), else after any UTF-8 continuation bytes."""
    newline = buffer.find(b"\n", 0, _LINE_SEARCH_BYTES)
    if newline >= 0:
        return newline + 1
    start = 0
    while start < min(3, len(buffer)) and 0x80 <= buffer[start] < 0xC0:
        start += 1
    return start


def _back_over_cursor_moves(buffer: bytes, start: int, floor: int) -> int:
    # `clear` writes "\e[H\e[2J\e[3J": replay the cursor home and every clear of that run.
    while start > floor:
        match = _CURSOR_OR_CLEAR_AT_END.search(buffer, max(floor, start - 24), start)
        if match is None:
            break
        start = match.start()
    return start


def replay_bytes(buffer: bytes, *, truncated: bool, alternate_screen: bool) -> bytes:
    """What to send a newly attached client so its screen matches the shell's, from recent output.

    ``buffer`` is the most recent output, ``truncated`` says older output was
    dropped from its start, ``alternate_screen`` whether a full-screen program
    holds the alternate screen now. The replay starts at the last full-screen
    clear (``\\e[2J``, ``\\e[3J``, ``\\ec``) of the screen in use, since
    nothing before it is visible; an alternate-screen program replays the main
    screen up to its start, then its own screen from its last clear. A replay
    that does not start at the true beginning is prefixed with a terminal
    reset, and a cut at an arbitrary byte skips to the next line start, so
    neither a split UTF-8 sequence nor half an escape sequence is shown.
    """
    if not buffer:
        return b""
    markers = [(match.start(), match.end(), _marker_kind(match.group())) for match in _MARKER.finditer(buffer)]
    if alternate_screen:
        enters = [marker for marker in markers if marker[2] == "enter"]
        if enters:
            enter_start, body_floor, _ = enters[-1]
            prefix = replay_bytes(buffer[:enter_start], truncated=truncated, alternate_screen=False)
            prefix = (prefix or RESET) + ENTER_ALTERNATE_SCREEN
        else:  # entered before the buffer's start
            body_floor = _line_start(buffer) if truncated else 0
            prefix = RESET + ENTER_ALTERNATE_SCREEN
        clears = [marker for marker in markers if marker[2] == "clear" and marker[0] >= body_floor]
        start = _back_over_cursor_moves(buffer, clears[-1][0], body_floor) if clears else body_floor
        return prefix + buffer[start:]

    # The main screen. Its state at the buffer's start follows from the first
    # screen switch in the buffer: a "leave" means we started inside a program.
    switches = [marker[2] for marker in markers if marker[2] != "clear"]
    in_alternate = switches[0] == "leave" if switches else False
    start: int | None = None
    entered = False
    for marker_start, marker_end, kind in markers:
        if kind == "reset":
            start, in_alternate = marker_start, False
        elif kind == "enter":
            in_alternate = entered = True
        elif kind == "leave":
            if in_alternate and not entered:
                start = marker_end  # what came before belongs to a program's screen we cannot rebuild
            in_alternate = False
        elif not in_alternate:
            start = _back_over_cursor_moves(buffer, marker_start, start or 0)
    if start is None:
        start = _line_start(buffer) if truncated else 0
    body = buffer[start:]
    if (start == 0 and not truncated) or body.startswith(RESET):
        return body
    return RESET + body


class ReplayBuffer:
    """The most recent output of a session (at most ``limit`` bytes) and the screen mode it left."""

    def __init__(self, limit: int):
        self.limit = limit
        self.data = bytearray()
        self.truncated = False
        self.alternate_screen = False
        self._carry = b""

    def append(self, chunk: bytes) -> None:
        # Rescanning the carried tail is harmless: the last marker wins.
        scanned = self._carry + chunk
        self.alternate_screen = alternate_screen_after(scanned, self.alternate_screen)
        self._carry = scanned[-_MARKER_CARRY:]
        self.data += chunk
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.truncated = True

    def replay(self) -> bytes:
        return replay_bytes(bytes(self.data), truncated=self.truncated, alternate_screen=self.alternate_screen)


# Size ------------------------------------------------------------------------------------


def effective_size(sizes: Iterable[tuple[int, int] | None], current: tuple[int, int]) -> tuple[int, int]:
    """The PTY size: the smallest cols and rows among the given writer sizes, or ``current`` if none."""
    known = [size for size in sizes if size is not None]
    if not known:
        return current
    return min(cols for cols, _ in known), min(rows for _, rows in known)


# Clients ---------------------------------------------------------------------------------


class ClientTransport(Protocol):
    """What a session needs of a socket (a Channels consumer has exactly this)."""

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False): ...

    async def close(self, code: int | None = None, reason: str | None = None): ...


class TerminalClient:
    """One WebSocket attached to a session: its rights, its size, its unacknowledged output, its outbox.

    Output, control messages and the final close leave through one queue that
    one task drains, so they reach the socket in order and the PTY read loop
    never waits on a socket. The queue holds at most what the client has not
    acknowledged, which flow control bounds.
    """

    def __init__(self, transport: ClientTransport, *, readonly: bool):
        self.transport = transport
        self.readonly = readonly
        self.size: tuple[int, int] | None = None
        self.unacked = 0
        self.last_ack_at = time.monotonic()
        self.above_high_since: float | None = None
        self.closing = False
        self.gone = False
        self.told_read_only = False
        self._outbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._held: tuple[str, Any] | None = None
        self._writer: asyncio.Task | None = None

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._drain_outbox())

    def stop(self) -> None:
        """The socket is gone: drop whatever is still queued."""
        self.gone = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()

    def send_output(self, data: bytes) -> None:
        if not (self.closing or self.gone):
            self.unacked += len(data)
            self._outbox.put_nowait(("bytes", data))

    def send_message(self, message: dict[str, Any]) -> None:
        if not (self.closing or self.gone):
            self._outbox.put_nowait(("text", json.dumps(message)))

    def notice(self, level: str, message: str, code: str | None = None) -> None:
        notice = {"type": "notice", "level": level, "message": message}
        if code:
            notice["code"] = code
        self.send_message(notice)

    def notice_read_only(self) -> None:
        if not self.told_read_only:
            self.told_read_only = True
            self.notice("warning", "This terminal is read-only for you: input and resizing are ignored.", "read_only")

    def close(self, code: int) -> None:
        if not (self.closing or self.gone):
            self.closing = True
            self._outbox.put_nowait(("close", code))

    def _take_more_output(self, data: bytes) -> bytes:
        """``data`` joined with the output queued right behind it, up to ``MAX_OUTPUT_FRAME_BYTES``.

        While a send is in flight the PTY keeps producing; sending what piled
        up as one frame costs one WebSocket message (and one ack) instead of
        many. An idle terminal sends each chunk as it comes, so this adds no
        latency; a control message in the queue ends the batch, keeping order.
        """
        parts = [data]
        size = len(data)
        while size < MAX_OUTPUT_FRAME_BYTES and not self._outbox.empty():
            kind, payload = self._outbox.get_nowait()
            if kind != "bytes":
                self._held = (kind, payload)
                break
            parts.append(payload)
            size += len(payload)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _drain_outbox(self) -> None:
        try:
            while True:
                if self._held is not None:
                    (kind, payload), self._held = self._held, None
                else:
                    kind, payload = await self._outbox.get()
                if kind == "bytes":
                    await self.transport.send(bytes_data=self._take_more_output(payload))
                elif kind == "text":
                    await self.transport.send(text_data=payload)
                else:
                    await self.transport.close(code=payload)
                    return
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the socket went away under us; its disconnect detaches it
            logger.info("terminal_client_send_failed", error=str(error))


# Sessions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowControl:
    high_bytes: int = 256 * 1024
    low_bytes: int = 32 * 1024
    stuck_seconds: float = 30.0


class PtySession:
    """One shell in a PTY with the clients attached to it (terminado's PtyWithClients).

    It owns the RuntimeProcess, the attached TerminalClients and a bounded
    ReplayBuffer of recent output. Output read from the PTY goes to every
    client and the buffer; input, resizes and signals come from read-write
    clients only. Flow control pauses reading while any client has more than
    ``high_bytes`` unacknowledged and resumes when all are below ``low_bytes``;
    a client stuck above the high mark for ``stuck_seconds`` is closed with
    4001. The PTY size is the smallest among writers that sent one. When the
    shell exits, every client gets the exit code once and the socket closes;
    ``close()`` ends the shell (SIGHUP, SIGTERM, SIGKILL), with the same
    ending. Lifetime policy (grace, idle, limits) belongs to the manager.
    """

    def __init__(
        self,
        workspace,
        name: str,
        *,
        creator,
        replay_limit: int,
        flow: FlowControl,
        on_finished: Callable[["PtySession"], None],
    ):
        self.workspace = workspace
        self.workspace_id: int = workspace.pk
        self.name = name
        self.creator = creator
        self.creator_id = creator.pk
        self.flow = flow
        self.clients: list[TerminalClient] = []
        self.process: RuntimeProcess | None = None
        self.replay = ReplayBuffer(replay_limit)
        self.cols, self.rows = 80, 24
        self.paused = False
        self.started_at = time.monotonic()
        self.last_activity = time.monotonic()
        self.exit_code: int | None = None
        self.outcome: str | None = None
        self.loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self.finished = asyncio.Event()
        # Timers the manager keeps on the session (grace period, idle check).
        self.grace_handle: asyncio.TimerHandle | None = None
        self.idle_handle: asyncio.TimerHandle | None = None
        self._on_finished = on_finished
        self._closing = False
        self._close_code = NORMAL_CLOSURE
        self._stuck_timer: asyncio.TimerHandle | None = None
        self._exit_watcher: asyncio.Task | None = None

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"<PtySession workspace={self.workspace_id} name={self.name!r} pid={pid} clients={len(self.clients)}>"

    @property
    def is_finished(self) -> bool:
        return self.finished.is_set()

    @property
    def is_closing(self) -> bool:
        """``close()`` was called: no new clients; finished soon."""
        return self._closing

    # Lifetime ----------------------------------------------------------------------
    async def start(self, runtime, argv: list[str], env: dict[str, str]) -> None:
        """Spawn the shell and start reading it; ``ready`` resolves (the manager fails it on errors)."""
        self.process = await runtime.spawn(self.workspace_id, argv, tty=True, env=env, cols=self.cols, rows=self.rows)
        metrics.TERMINALS_RUNNING.inc()
        self.process.start_reading(self._on_output)
        self._exit_watcher = self.loop.create_task(self._watch_exit())
        self.ready.set_result(None)

    async def _watch_exit(self) -> None:
        self._finish(await self.process.wait())

    def _finish(self, exit_code: int) -> None:
        if self.is_finished:
            return
        self.exit_code = exit_code
        self.outcome = self.outcome or "exited"
        for client in self.clients:
            client.send_message({"type": "exit", "code": exit_code})
            client.close(self._close_code)
        metrics.TERMINAL_CLIENTS.dec(len(self.clients))
        self.clients = []
        if self._stuck_timer is not None:
            self._stuck_timer.cancel()
        metrics.TERMINALS_RUNNING.dec()
        metrics.TERMINAL_SESSIONS.labels(self.outcome).inc()
        self.finished.set()
        logger.info(
            "terminal_finished", workspace_id=self.workspace_id, name=self.name, code=exit_code, outcome=self.outcome
        )
        self._on_finished(self)

    async def close(
        self,
        outcome: str,
        *,
        notice: str | None = None,
        close_code: int = NORMAL_CLOSURE,
        grace_seconds: float = 2.0,
    ) -> None:
        """End the shell; attached clients get ``notice`` (if any), the exit code, and ``close_code``."""
        if self.is_finished or self.process is None:
            return
        if not self._closing:
            self._closing = True
            self.outcome, self._close_code = outcome, close_code
            if notice:
                for client in self.clients:
                    client.notice("warning", notice, outcome)
            await self.process.terminate(grace_seconds)
        try:
            await asyncio.wait_for(self.finished.wait(), grace_seconds + 10)
        except TimeoutError:  # unkillable (uninterruptible sleep): report it ended anyway
            self._finish(self.process.returncode if self.process.returncode is not None else -signal.SIGKILL)

    # Clients -----------------------------------------------------------------------
    def add_client(self, client: TerminalClient) -> bool:
        """Attach ``client``: it gets "ready", the replay, then live output. False if the session ended."""
        if self.is_finished or self._closing or client.gone:
            return False
        replay = self.replay.replay()
        client.send_message(
            {
                "type": "ready",
                "name": self.name,
                "readonly": client.readonly,
                "cols": self.cols,
                "rows": self.rows,
                "replayed": len(replay),
            }
        )
        for offset in range(0, len(replay), REPLAY_FRAME_BYTES):
            client.send_output(replay[offset : offset + REPLAY_FRAME_BYTES])
        self.clients.append(client)
        metrics.TERMINAL_CLIENTS.inc()
        self._apply_flow_control()
        return True

    def remove_client(self, client: TerminalClient) -> None:
        if client in self.clients:
            self.clients.remove(client)
            metrics.TERMINAL_CLIENTS.dec()
            self._apply_size()
            self._maybe_resume()

    def change_client_access(self, client: TerminalClient, *, readonly: bool, message: str) -> None:
        """The client's user gained or lost the right to type (a role change): it stays attached.

        It gets a notice ``access_changed`` carrying its new ``readonly``; a
        client that became read-only no longer counts for the PTY's size.
        """
        if client not in self.clients or client.readonly == readonly:
            return
        client.readonly = readonly
        client.told_read_only = False
        client.send_message(
            {
                "type": "notice",
                "level": "warning" if readonly else "info",
                "message": message,
                "code": "access_changed",
                "readonly": readonly,
            }
        )
        self._apply_size()

    def send_to_all(self, message: dict[str, Any]) -> None:
        for client in self.clients:
            client.send_message(message)

    # From clients ---------------------------------------------------------------------
    def write(self, client: TerminalClient, data: bytes) -> None:
        if client.readonly:
            client.notice_read_only()
            return
        if self.process is None or self.is_finished:
            return
        self.last_activity = time.monotonic()
        try:
            self.process.write(data)
        except InputOverflowError as error:
            client.notice("warning", str(error), "input_dropped")

    def control(self, client: TerminalClient, message: dict[str, Any]) -> None:
        """Act on a validated control message (see ``parse_control_message``)."""
        kind = message["type"]
        if kind == "ping":
            client.send_message({"type": "pong"})
        elif kind == "ack":
            self._ack(client, message["bytes"])
        elif client.readonly:
            client.notice_read_only()
        elif kind == "resize":
            client.size = (message["cols"], message["rows"])
            self._apply_size()
        elif kind == "signal" and self.process is not None:
            self.last_activity = time.monotonic()
            self.process.send_signal(SIGNALS[message["name"]])
        elif kind == "close":
            # Ends the shell for everyone attached (a tab's "kill"), unlike a
            # disconnect, which leaves it running for the grace period.
            asyncio.get_running_loop().create_task(
                self.close("closed_by_user", notice="This terminal was closed from another tab or window.")
            )

    def _apply_size(self) -> None:
        size = effective_size((client.size for client in self.clients if not client.readonly), (self.cols, self.rows))
        if size != (self.cols, self.rows) and self.process is not None and not self.is_finished:
            self.cols, self.rows = size
            self.process.resize(*size)
            self.send_to_all({"type": "size", "cols": self.cols, "rows": self.rows})

    # Output and flow control --------------------------------------------------------------
    def _on_output(self, stream: str, chunk: bytes) -> None:
        if not chunk:
            return  # the end of output: the exit watcher finishes the session
        self.last_activity = time.monotonic()
        metrics.TERMINAL_OUTPUT_BYTES.inc(len(chunk))
        self.replay.append(chunk)
        for client in self.clients:
            client.send_output(chunk)
        self._apply_flow_control()

    def _ack(self, client: TerminalClient, count: int) -> None:
        client.unacked = max(0, client.unacked - count)
        client.last_ack_at = time.monotonic()
        if client.unacked <= self.flow.high_bytes:
            client.above_high_since = None
        self._maybe_resume()

    def _apply_flow_control(self) -> None:
        now = time.monotonic()
        over = [client for client in self.clients if client.unacked > self.flow.high_bytes]
        for client in over:
            if client.above_high_since is None:
                client.above_high_since = now
        if over:
            if not self.paused and self.process is not None:
                self.paused = True
                self.process.pause_reading()
            if self._stuck_timer is None:
                self._stuck_timer = self.loop.call_later(self.flow.stuck_seconds, self._close_stuck_clients)

    def _maybe_resume(self) -> None:
        if self.paused and all(client.unacked < self.flow.low_bytes for client in self.clients):
            self.paused = False
            if self.process is not None:
                self.process.resume_reading()

    def _close_stuck_clients(self) -> None:
        self._stuck_timer = None
        now = time.monotonic()
        next_check = None
        for client in list(self.clients):
            if client.above_high_since is None:
                continue
            quiet_for = now - max(client.above_high_since, client.last_ack_at)
            if quiet_for >= self.flow.stuck_seconds:
                logger.info("terminal_client_stuck", workspace_id=self.workspace_id, name=self.name)
                client.notice("error", "This client stopped acknowledging output; reconnect to resume.", "stuck")
                client.close(RESTART)
                self.remove_client(client)
            else:
                remaining = self.flow.stuck_seconds - quiet_for
                next_check = remaining if next_check is None else min(next_check, remaining)
        if next_check is not None:
            self._stuck_timer = self.loop.call_later(next_check, self._close_stuck_clients)
