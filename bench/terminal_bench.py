"""Terminal benchmark: Devbench's terminal WebSocket against terminado 0.18 and a raw local PTY.

Measures, side by side in one run (bench/README.md says how to run it):

- output throughput: ``cat`` of a fixed printable file (base64-like text in
  76-column lines) followed by a sentinel, timed from sending the command to
  seeing the sentinel; the same bytes for all three; median (min, max) of
  several runs;
- keystroke echo latency: one printable key at a time at a bash prompt, timed
  until the PTY's echo of it comes back; p50 / p95 / p99;
- server memory with a slow client: the same flood, read one frame per 50 ms
  and never acknowledged, while the server's RSS is sampled; then Ctrl+C, the
  time until its echo arrives, and whether the shell answers again.

Devbench runs for real: a throwaway DATA_DIR, ``manage.py migrate``, a user
and a ready workspace made by bench/setup_platform.py, then daphne in a
subprocess. terminado runs in its own subprocess (bench/terminado_server.py).
The raw PTY is bash under ptyprocess in this process, read with blocking
``select`` + ``os.read``: the floor that no WebSocket bridge can beat.

Everything is bounded in time, and every process and temporary directory is
removed on the way out, also after a failure, Ctrl+C or SIGTERM.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
BENCH_DIR = REPOSITORY / "bench"
MIB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Markers are typed with quotes or printf pieces in them (__FLOOD_"DONE"__) so
# the shell's echo of the command line never matches; only the output does.
FLOOD_SENTINEL = b"__FLOOD_DONE__"
FLOOD_SENTINEL_COMMAND = 'echo __FLOOD_"DONE"__'
# Keys typed on one line before it is cleared with Ctrl+U: the line, prompt
# included, stays well inside 80 columns, so readline echoes plain characters.
ECHO_KEYS_PER_LINE = 40
ECHO_KEY = b"a"
CTRL_C = b"\x03"
CTRL_U = b"\x15"
SLOW_READ_INTERVAL_SECONDS = 0.05
RSS_SAMPLE_INTERVAL_SECONDS = 0.1
# "Memory bounded" verdict: the server grew by less than this while a slow
# client left a whole flood unread (an unbounded bridge grows by about the flood).
BOUNDED_GROWTH_BYTES = 8 * MIB
# frontend/src/ide/terminal_session.js ACK_BATCH_BYTES
IDE_ACK_BATCH_BYTES = 16 * 1024

TARGETS = ("devbench", "terminado", "raw")
TARGET_TITLES = {"devbench": "Devbench (daphne)", "terminado": "terminado 0.18", "raw": "raw PTY"}
RESULTS_START = "<!-- bench:results:start -->"
RESULTS_END = "<!-- bench:results:end -->"


class BenchError(RuntimeError):
    """A step failed or timed out; the message says which."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Processes ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (not its children)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, from /proc (shells setsid, so process groups miss them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


class ManagedProcess:
    """A server subprocess of the benchmark: output to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        # Own session: a Ctrl+C in the benchmark's terminal reaches us, not the servers.
        self.process = subprocess.Popen(
            argv, cwd=REPOSITORY, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 25) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        leftovers = descendants(self.pid) if self.process.poll() is None else []
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for pid in leftovers:  # shells that outlived their server
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


async def wait_for_port(process: ManagedProcess, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise BenchError(f"{process.name} exited with {process.process.returncode}:\n{process.log_tail()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise BenchError(f"{process.name} did not listen on port {port} within {timeout:.0f}s:\n{process.log_tail()}")


async def run_step(argv: list[str], *, env: dict[str, str], timeout: float, what: str) -> str:
    """Run a setup command to completion; its stdout, or BenchError with its output."""
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=REPOSITORY, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise BenchError(f"{what} failed ({process.returncode}):\n{stderr.decode(errors='replace')[-2000:]}")
    return stdout.decode()


# Terminal links: one per target, the same small interface ----------------------------------------


class TerminalLink:
    """A connection to a shell: send keystrokes, receive PTY output chunks (bytes)."""

    name = ""
    server_pid: int | None = None
    websocket = None
    frames = 0  # output chunks received, to report the mean chunk size

    async def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def recv(self, timeout: float) -> bytes:
        """The next output chunk; TimeoutError after ``timeout`` seconds without one."""
        raise NotImplementedError

    async def flush_acks(self) -> None:
        """Acknowledge what was received (flow control); only Devbench has any."""

    async def close(self) -> None:
        raise NotImplementedError


class DevbenchLink(TerminalLink):
    """Devbench's terminal WebSocket: binary frames both ways, JSON control messages, acks.

    Before waiting for the next frame it acknowledges what it received once
    that reaches ``ack_threshold`` bytes: 1 acknowledges every frame, as the
    IDE does when xterm.js keeps up; None acknowledges nothing until
    ``flush_acks`` (a client that stopped rendering).
    """

    name = "devbench"

    def __init__(self, websocket, server_pid: int, ack_threshold: int):
        self.websocket = websocket
        self.server_pid = server_pid
        self.default_ack_threshold = ack_threshold
        self.ack_threshold: int | None = ack_threshold
        self.unacked = 0
        self.messages: list[dict] = []

    @classmethod
    async def connect(
        cls, port: int, workspace_id: int, cookie: str, server_pid: int, ack_threshold: int
    ) -> "DevbenchLink":
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{port}/ws/workspaces/{workspace_id}/terminals/bench/"
        websocket = await connect(
            url,
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": cookie},
            compression=None,  # daphne accepts none; a browser's offer ends the same way
            max_size=None,
            ping_interval=None,
            open_timeout=15,
        )
        link = cls(websocket, server_pid, ack_threshold)
        ready = await link._next_message(15)
        if ready.get("type") != "ready":
            raise BenchError(f"Devbench answered {ready} instead of ready")
        return link

    async def _next_message(self, timeout: float) -> dict:
        while True:
            frame = await asyncio.wait_for(self.websocket.recv(), timeout)
            if isinstance(frame, str):
                return json.loads(frame)
            self.unacked += len(frame)

    async def send(self, data: bytes) -> None:
        await self.websocket.send(data)

    async def recv(self, timeout: float) -> bytes:
        while True:
            if self.ack_threshold is not None and self.unacked >= self.ack_threshold:
                await self.flush_acks()
            frame = await asyncio.wait_for(self.websocket.recv(), timeout)
            if isinstance(frame, bytes):
                self.unacked += len(frame)
                self.frames += 1
                return frame
            message = json.loads(frame)
            self.messages.append(message)
            if message.get("type") == "exit":
                raise BenchError(f"the Devbench shell exited: {message}")

    async def app_ping(self, timeout: float) -> None:
        """A ``ping`` control message and its ``pong``: the path of every text frame through the consumer."""
        await self.websocket.send('{"type": "ping"}')
        while (await self._next_message(timeout)).get("type") != "pong":
            pass

    async def flush_acks(self) -> None:
        if self.unacked:
            count, self.unacked = self.unacked, 0
            await self.websocket.send(json.dumps({"type": "ack", "bytes": count}))

    async def close(self) -> None:
        await self.websocket.close()


class TerminadoLink(TerminalLink):
    """terminado's TermSocket: JSON text frames, ``["stdin", text]`` up and ``["stdout", text]`` down."""

    name = "terminado"

    def __init__(self, websocket, server_pid: int):
        self.websocket = websocket
        self.server_pid = server_pid

    @classmethod
    async def connect(cls, port: int, server_pid: int) -> "TerminadoLink":
        from websockets.asyncio.client import connect

        websocket = await connect(
            f"ws://127.0.0.1:{port}/websocket",
            origin=f"http://127.0.0.1:{port}",  # tornado's default same-origin check
            compression=None,  # tornado's TermSocket offers none either
            max_size=None,
            ping_interval=None,
            open_timeout=15,
        )
        return cls(websocket, server_pid)

    async def send(self, data: bytes) -> None:
        await self.websocket.send(json.dumps(["stdin", data.decode()]))

    async def recv(self, timeout: float) -> bytes:
        while True:
            message = json.loads(await asyncio.wait_for(self.websocket.recv(), timeout))
            if message[0] == "stdout":
                self.frames += 1
                return message[1].encode()
            if message[0] == "disconnect":
                raise BenchError("the terminado shell exited")

    async def close(self) -> None:
        await self.websocket.close()


class RawPtyLink(TerminalLink):
    """bash in a PTY of this process, read with blocking ``select`` + ``os.read``.

    Blocking on purpose: it is the floor (no event loop, no socket). While a
    raw measurement runs nothing else needs this process's event loop; the
    WebSocket clients have keep-alive pings off.
    """

    name = "raw"

    def __init__(self, env: dict[str, str], cwd: Path):
        from ptyprocess import PtyProcess

        self.process = PtyProcess.spawn(["bash", "--norc", "--noprofile"], env=env, cwd=str(cwd), dimensions=(24, 80))
        self.fd = self.process.fd

    async def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    async def recv(self, timeout: float) -> bytes:
        readable, _, _ = select.select([self.fd], [], [], timeout)
        if not readable:
            raise TimeoutError
        chunk = os.read(self.fd, 65536)
        if not chunk:
            raise BenchError("the raw PTY shell exited")
        self.frames += 1
        return chunk

    async def close(self) -> None:
        self.process.terminate(force=True)


# Primitives ---------------------------------------------------------------------------------------------


async def read_until(link: TerminalLink, marker: bytes, timeout: float) -> int:
    """Read until ``marker`` appears in the output; the number of bytes read."""
    deadline = time.monotonic() + timeout
    total, tail = 0, b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError(f"{link.name}: no {marker!r} within {timeout:.0f}s ({total} bytes read)")
        try:
            chunk = await link.recv(remaining)
        except TimeoutError:
            continue
        total += len(chunk)
        window = tail + chunk
        if marker in window:
            return total
        tail = window[-(len(marker) - 1) :]


async def drain_quiet(link: TerminalLink, quiet: float, timeout: float = 10.0) -> int:
    """Read until nothing arrives for ``quiet`` seconds; the bytes read."""
    deadline = time.monotonic() + timeout
    total = 0
    while time.monotonic() < deadline:
        try:
            total += len(await link.recv(quiet))
        except TimeoutError:
            return total
    raise BenchError(f"{link.name}: output did not stop within {timeout:.0f}s")


_sync_counter = 0


async def sync(link: TerminalLink, timeout: float = 15.0) -> None:
    """Run a marker command and wait for its output and the prompt after it: the shell is idle."""
    global _sync_counter
    _sync_counter += 1
    await link.send(f"printf '__SY%s__\\n' NC{_sync_counter}\r".encode())
    await read_until(link, f"__SYNC{_sync_counter}__".encode(), timeout)
    await drain_quiet(link, 0.1)
    await link.flush_acks()


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


# Measurements -------------------------------------------------------------------------------------------


@dataclass
class FloodRun:
    seconds: float
    received_bytes: int
    frames: int
    server_cpu_seconds: float | None
    client_cpu_seconds: float
    server_peak_rss: int | None

    @property
    def mib_per_second(self) -> float:
        return self.received_bytes / MIB / self.seconds


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in the background."""

    def __init__(self, pid: int | None, interval: float = RSS_SAMPLE_INTERVAL_SECONDS):
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "RssSampler":
        if self.pid is not None:
            self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._sample()

    def _sample(self) -> None:
        value = rss_bytes(self.pid)
        if value is not None:
            self.samples.append((time.monotonic(), value))

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.interval)

    @property
    def peak(self) -> int | None:
        return max((value for _, value in self.samples), default=None)


async def measure_flood(link: TerminalLink, flood_file: Path, timeout: float) -> FloodRun:
    command = f"cat {flood_file}; {FLOOD_SENTINEL_COMMAND}\r".encode()
    server_cpu_before = cpu_seconds(link.server_pid) if link.server_pid else None
    client_cpu_before = own_cpu_seconds()
    frames_before = link.frames
    async with RssSampler(link.server_pid, interval=0.05) as sampler:
        started = time.perf_counter()
        await link.send(command)
        received = await read_until(link, FLOOD_SENTINEL, timeout)
        seconds = time.perf_counter() - started
    server_cpu = cpu_seconds(link.server_pid) - server_cpu_before if link.server_pid else None
    run = FloodRun(
        seconds, received, link.frames - frames_before, server_cpu, own_cpu_seconds() - client_cpu_before, sampler.peak
    )
    await drain_quiet(link, 0.1)
    await link.flush_acks()
    return run


async def measure_echo(link: TerminalLink, samples: int, warmup: int, gap: float) -> list[float]:
    """Seconds from sending one key to receiving its echo, ``samples`` times after ``warmup``.

    The shell must be idle at its prompt; it is again afterwards, with an empty line.
    """
    latencies: list[float] = []
    on_line = 0
    for index in range(warmup + samples):
        if on_line == ECHO_KEYS_PER_LINE:
            await link.send(CTRL_U)
            await drain_quiet(link, 0.03)
            await link.flush_acks()
            on_line = 0
        await asyncio.sleep(gap)
        started = time.perf_counter()
        await link.send(ECHO_KEY)
        while True:
            chunk = await link.recv(5.0)
            if ECHO_KEY in chunk:
                break
        elapsed = time.perf_counter() - started
        await link.flush_acks()  # after the clock: the IDE acks once the echo is rendered
        if index >= warmup:
            latencies.append(elapsed)
        on_line += 1
    await link.send(CTRL_U)
    await drain_quiet(link, 0.05)
    await link.flush_acks()
    return latencies


async def measure_pings(link: TerminalLink, samples: int, gap: float) -> dict[str, list[float]]:
    """Round trips without the PTY: a WebSocket ping (answered by the server's WebSocket library)
    and, for Devbench, a ``ping`` control message (answered through the consumer and the session)."""
    kinds: dict[str, list[float]] = {"websocket": []}
    if isinstance(link, DevbenchLink):
        kinds["app"] = []
    for _ in range(samples):
        for kind, latencies in kinds.items():
            await asyncio.sleep(gap)
            started = time.perf_counter()
            if kind == "websocket":
                await asyncio.wait_for(await link.websocket.ping(), 5)
            else:
                await link.app_ping(5)
            latencies.append(time.perf_counter() - started)
    return kinds


@dataclass
class SlowClientResult:
    baseline_rss: int
    peak_rss: int
    final_rss: int
    received_bytes: int
    recovered: bool
    recovery_seconds: float | None
    recovery_bytes: int
    after_recovery_rss: int | None
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def growth(self) -> int:
        return self.peak_rss - self.baseline_rss


async def measure_slow_client(
    link: TerminalLink, flood_file: Path, duration: float, recovery_timeout: float
) -> SlowClientResult:
    """Flood a client that reads one frame per 50 ms and never acks; then Ctrl+C and wait for the shell."""
    await sync(link)
    baseline = statistics.median([rss_bytes(link.server_pid) or 0 for _ in range(3)])
    if isinstance(link, DevbenchLink):
        link.ack_threshold = None
    received = 0
    async with RssSampler(link.server_pid) as sampler:
        await link.send(f"cat {flood_file}; {FLOOD_SENTINEL_COMMAND}\r".encode())
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                received += len(await link.recv(SLOW_READ_INTERVAL_SECONDS))
            await asyncio.sleep(SLOW_READ_INTERVAL_SECONDS)
    final = rss_bytes(link.server_pid) or 0

    # Ctrl+C as the IDE sends it (a keystroke), then render again at full speed.
    # Recovered: the "^C" echo is on screen (everything queued before it was
    # delivered first), and then the shell runs a command. The command waits
    # for the echo: typed together with ^C, the tty's input flush may eat it.
    started = time.perf_counter()
    await link.send(CTRL_C)
    if isinstance(link, DevbenchLink):
        link.ack_threshold = link.default_ack_threshold
        await link.flush_acks()
    recovered, recovery_seconds, recovery_bytes = True, None, 0
    try:
        recovery_bytes = await read_until(link, b"^C", recovery_timeout)
        recovery_seconds = time.perf_counter() - started
        await drain_quiet(link, 0.2)
        await sync(link)
    except BenchError as error:
        log(f"{link.name}: did not recover: {error}")
        recovered = False
    return SlowClientResult(
        baseline_rss=int(baseline),
        peak_rss=sampler.peak or 0,
        final_rss=final,
        received_bytes=received,
        recovered=recovered,
        recovery_seconds=recovery_seconds,
        recovery_bytes=recovery_bytes,
        after_recovery_rss=rss_bytes(link.server_pid),
        samples=[(round(moment - sampler.samples[0][0], 2), value) for moment, value in sampler.samples],
    )


# Setup --------------------------------------------------------------------------------------------------


def write_flood_file(path: Path, size: int) -> None:
    """``size`` bytes of printable text in 76-column lines (base64's shape), the same for every target."""
    line = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" * 2)[:75]
    block = b"".join(line[shift:] + line[:shift] + b"\n" for shift in range(75))
    with open(path, "wb") as flood:
        written = 0
        while written < size:
            piece = block[: size - written]
            flood.write(piece)
            written += len(piece)


def shell_env(home: Path) -> dict[str, str]:
    """The environment of the terminado and raw shells: as close to Devbench's allowlist as possible."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
    }


def platform_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Nothing may point the throwaway platform at real data or services.
    for name in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "SQLITE_PATH", "WORKSPACES_ROOT", "CELERY_BROKER_DIR"):
        env.pop(name, None)
    env.update({"DATA_DIR": str(data_dir), "DEBUG": "1", "FAST_PASSWORD_HASHING": "1", "PYTHONUNBUFFERED": "1"})
    return env


@dataclass
class Environment:
    """What the run started: torn down by ``close`` whatever happened."""

    temp_dir: Path
    keep_temp: bool = False
    processes: list[ManagedProcess] = field(default_factory=list)
    links: list[TerminalLink] = field(default_factory=list)

    async def close(self) -> None:
        for link in self.links:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(link.close(), 5)
        for process in self.processes:
            try:
                process.stop()
            except Exception as error:  # keep stopping the others
                log(f"stopping {process.name} failed: {error}")
        if self.keep_temp:
            log(f"kept {self.temp_dir} (server logs, database)")
        else:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


async def start_targets(environment: Environment, args: argparse.Namespace) -> tuple[dict[str, TerminalLink], Path]:
    temp = environment.temp_dir
    flood_file = temp / "flood.txt"
    write_flood_file(flood_file, args.flood_mb * MIB)
    data_dir = temp / "data"
    env = platform_env(data_dir)
    python = sys.executable

    terminado_port = free_port()
    terminado_env = {**shell_env(temp / "home"), "PYTHONUNBUFFERED": "1"}
    (temp / "home").mkdir()
    terminado = ManagedProcess(
        "terminado",
        [python, str(BENCH_DIR / "terminado_server.py"), "--port", str(terminado_port)],
        env=terminado_env,
        log_path=temp / "terminado.log",
    )
    environment.processes.append(terminado)

    log("migrating a throwaway database")
    await run_step([python, "manage.py", "migrate", "--noinput"], env=env, timeout=120, what="migrate")
    setup_output = await run_step([python, str(BENCH_DIR / "setup_platform.py")], env=env, timeout=60, what="setup")
    setup = json.loads(setup_output.strip().splitlines()[-1])
    daphne_port = free_port()
    daphne = ManagedProcess(
        "daphne",
        [python, "-m", "platform_core.daphne_server", "-b", "127.0.0.1", "-p", str(daphne_port), args.asgi_application],
        env=env,
        log_path=temp / "daphne.log",
    )
    environment.processes.append(daphne)
    await wait_for_port(terminado, terminado_port, 30)
    await wait_for_port(daphne, daphne_port, 60)
    log(f"daphne pid {daphne.pid} on :{daphne_port}, terminado pid {terminado.pid} on :{terminado_port}")

    links: dict[str, TerminalLink] = {}
    try:
        links["devbench"] = await DevbenchLink.connect(
            daphne_port, setup["workspace_id"], setup["session_cookie"], daphne.pid, args.ack_bytes
        )
    except Exception as error:
        raise BenchError(f"connecting to Devbench failed: {error!r}\n{daphne.log_tail()}") from error
    environment.links.append(links["devbench"])
    links["terminado"] = await TerminadoLink.connect(terminado_port, terminado.pid)
    environment.links.append(links["terminado"])
    links["raw"] = RawPtyLink(shell_env(temp / "home"), temp / "home")
    environment.links.append(links["raw"])
    for link in links.values():
        await sync(link, timeout=20)
    return links, flood_file


# Report ---------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    def read(path: str, prefix: str) -> str:
        with contextlib.suppress(OSError), open(path) as source:
            for line in source:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
        return "unknown"

    versions = {}
    for package in ("daphne", "channels", "Twisted", "autobahn", "terminado", "tornado", "websockets", "Django"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    total_kib = read("/proc/meminfo", "MemTotal").split()[0]
    return {
        "date": datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y"),
        "cpus": str(os.cpu_count()),
        "cpu_model": read("/proc/cpuinfo", "model name"),
        "memory": f"{int(total_kib) / MIB:.1f} GiB" if total_kib.isdigit() else "unknown",
        "kernel": platform.release(),
        "python": platform.python_version(),
        **{f"version_{name.lower()}": version for name, version in versions.items()},
    }


def summarize(results: dict) -> dict:
    ide_rates = [run["mib_per_second"] for run in results["flood"]["devbench_ide_acks"]]
    summary: dict = {
        "devbench_ide_acks": {
            "throughput_median": statistics.median(ide_rates),
            "throughput_min": min(ide_rates),
            "throughput_max": max(ide_rates),
        }
    }
    for target in TARGETS:
        runs = results["flood"][target]
        rates = [run["mib_per_second"] for run in runs]
        echo = results["echo"][target]
        summary[target] = {
            "throughput_median": statistics.median(rates),
            "throughput_min": min(rates),
            "throughput_max": max(rates),
            "server_cpu_per_mib": (
                statistics.median(run["server_cpu_seconds"] / (run["received_bytes"] / MIB) for run in runs)
                if runs[0]["server_cpu_seconds"] is not None
                else None
            ),
            "client_cpu_share": statistics.median(run["client_cpu_seconds"] / run["seconds"] for run in runs),
            "flood_peak_rss": max((run["server_peak_rss"] or 0) for run in runs) or None,
            "echo_p50_ms": percentile(echo, 0.50) * 1000,
            "echo_p95_ms": percentile(echo, 0.95) * 1000,
            "echo_p99_ms": percentile(echo, 0.99) * 1000,
            "echo_max_ms": max(echo) * 1000,
            "mean_chunk_bytes": sum(run["received_bytes"] for run in runs) / max(1, sum(run["frames"] for run in runs)),
            **{
                f"{kind}_ping_{name}_ms": percentile(values, fraction) * 1000
                for kind, values in results["pings"].get(target, {}).items()
                for name, fraction in (("p50", 0.5), ("p99", 0.99))
            },
        }
    return summary


def mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / MIB:.1f} MiB"


def rate_cell(summary: dict) -> str:
    return f"**{summary['throughput_median']:.1f}** ({summary['throughput_min']:.1f}–{summary['throughput_max']:.1f})"


def ping_cell(summary: dict, kind: str) -> str:
    if f"{kind}_ping_p50_ms" not in summary:
        return "—"
    return f"{summary[f'{kind}_ping_p50_ms']:.3f} / {summary[f'{kind}_ping_p99_ms']:.3f}"


def markdown_table(results: dict) -> str:
    summary = results["summary"]
    slow = results["slow_client"]
    rows = [
        (
            f"Throughput, {results['config']['flood_mb']} MiB flood: MiB/s median (min–max)",
            lambda t: rate_cell(summary[t]),
        ),
        (
            f"… the same, Devbench acked per {IDE_ACK_BATCH_BYTES // 1024} KiB as the IDE does in a flood",
            lambda t: rate_cell(summary["devbench_ide_acks"]) if t == "devbench" else "—",
        ),
        (
            "Server CPU per MiB of output (s)",
            lambda t: "—" if summary[t]["server_cpu_per_mib"] is None else f"{summary[t]['server_cpu_per_mib']:.3f}",
        ),
        ("Mean output chunk (bytes per frame)", lambda t: f"{summary[t]['mean_chunk_bytes']:.0f}"),
        ("Benchmark client busy during flood", lambda t: f"{summary[t]['client_cpu_share'] * 100:.0f}%"),
        ("Server peak RSS during fast floods", lambda t: mib(summary[t]["flood_peak_rss"]) if t != "raw" else "—"),
        (
            f"Echo latency p50 / p95 / p99 (ms), {results['config']['echo_samples']} keys",
            lambda t: (
                f"**{summary[t]['echo_p50_ms']:.3f}** / {summary[t]['echo_p95_ms']:.3f} / "
                f"{summary[t]['echo_p99_ms']:.3f}"
            ),
        ),
        ("Echo latency max (ms)", lambda t: f"{summary[t]['echo_max_ms']:.3f}"),
        (
            "WebSocket ping→pong p50 / p99 (ms): the WebSocket server alone",
            lambda t: ping_cell(summary[t], "websocket"),
        ),
        ("Control ping→pong p50 / p99 (ms): through the consumer", lambda t: ping_cell(summary[t], "app")),
        (
            "Slow client: server RSS baseline → peak (growth)",
            lambda t: (
                f"{mib(slow[t]['baseline_rss'])} → {mib(slow[t]['peak_rss'])} "
                f"(**{(slow[t]['peak_rss'] - slow[t]['baseline_rss']) / MIB:+.1f} MiB**)"
                if t in slow
                else "—"
            ),
        ),
        (
            "Slow client: bytes it read in the slow phase",
            lambda t: mib(slow[t]["received_bytes"]) if t in slow else "—",
        ),
        (
            "After Ctrl+C: its ^C echo arrives in (s), after draining",
            lambda t: (
                (
                    f"{slow[t]['recovery_seconds']:.2f} s, {mib(slow[t]['recovery_bytes'])}"
                    if slow[t]["recovered"]
                    else "**did not recover**"
                )
                if t in slow
                else "—"
            ),
        ),
        ("Server RSS after recovery", lambda t: mib(slow[t]["after_recovery_rss"]) if t in slow else "—"),
    ]
    lines = [
        "| | " + " | ".join(TARGET_TITLES[target] for target in TARGETS) + " |",
        "| --- | " + " | ".join("---:" for _ in TARGETS) + " |",
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(target) for target in TARGETS) + " |")
    return "\n".join(lines)


def goal_verdicts(results: dict) -> list[str]:
    summary, slow = results["summary"], results["slow_client"]
    ours, theirs = summary["devbench"]["throughput_median"], summary["terminado"]["throughput_median"]
    p50 = summary["devbench"]["echo_p50_ms"]
    growth = slow["devbench"]["peak_rss"] - slow["devbench"]["baseline_rss"]
    recovered = slow["devbench"]["recovered"]

    def verdict(passed: bool) -> str:
        return "**met**" if passed else "**missed**"

    return [
        f"- Throughput at least terminado's: {verdict(ours >= theirs)} "
        f"({ours:.1f} vs {theirs:.1f} MiB/s, {ours / theirs:.2f}×).",
        f"- Echo p50 under 1 ms: {verdict(p50 < 1.0)} ({p50:.3f} ms).",
        f"- Memory bounded (slow client grows the server by < {mib(BOUNDED_GROWTH_BYTES)} and the session "
        f"recovers): {verdict(growth < BOUNDED_GROWTH_BYTES and recovered)} ({growth / MIB:+.1f} MiB, "
        f"{'recovered' if recovered else 'did not recover'}).",
    ]


def markdown_results(results: dict) -> str:
    machine = results["machine"]
    config = results["config"]
    versions = ", ".join(
        f"{name.removeprefix('version_')} {version}" for name, version in machine.items() if name.startswith("version_")
    )
    return "\n".join(
        [
            f"Run: {machine['date']}, `{config['command']}` (total {results['elapsed_seconds']:.0f} s).",
            "",
            f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory']} RAM, "
            f"Linux {machine['kernel']}, Python {machine['python']}; {versions}.",
            "",
            markdown_table(results),
            "",
            "Goals:",
            "",
            *goal_verdicts(results),
        ]
    )


def write_markdown(path: Path, results: dict) -> None:
    """Replace the results block of ``path`` (between the markers), keeping the prose around it."""
    block = f"{RESULTS_START}\n{markdown_results(results)}\n{RESULTS_END}"
    if path.exists() and RESULTS_START in (text := path.read_text()) and RESULTS_END in text:
        pattern = re.compile(re.escape(RESULTS_START) + ".*?" + re.escape(RESULTS_END), re.DOTALL)
        path.write_text(pattern.sub(lambda _: block, text, count=1))
    else:
        path.write_text(f"# Benchmarks\n\n## Terminal\n\n{block}\n")


# Main ---------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, environment: Environment) -> dict:
    started = time.monotonic()
    links, flood_file = await start_targets(environment, args)
    flood_timeout = max(30.0, args.flood_mb * 2.0)
    results: dict = {"flood": {target: [] for target in TARGETS}, "slow_client": {}}

    profilers = start_profilers(args.profile, links) if args.profile else []
    devbench = links["devbench"]
    results["flood"]["devbench_ide_acks"] = []
    for attempt in range(1, args.runs + 1):
        # Interleaved, so drift on a shared machine hits every target alike.
        for target in TARGETS:
            flood = await measure_flood(links[target], flood_file, flood_timeout)
            results["flood"][target].append({**flood.__dict__, "mib_per_second": flood.mib_per_second})
            log(f"flood {attempt}/{args.runs} {target}: {flood.mib_per_second:.1f} MiB/s in {flood.seconds:.2f}s")
        # The IDE acks per 16 KiB once xterm.js falls behind, which it does in a flood.
        devbench.ack_threshold = IDE_ACK_BATCH_BYTES
        flood = await measure_flood(devbench, flood_file, flood_timeout)
        devbench.ack_threshold = devbench.default_ack_threshold
        results["flood"]["devbench_ide_acks"].append({**flood.__dict__, "mib_per_second": flood.mib_per_second})
        log(f"flood {attempt}/{args.runs} devbench, 16 KiB acks: {flood.mib_per_second:.1f} MiB/s")
    stop_profilers(profilers)

    # Echo and pings in blocks, round robin, for the same reason.
    gap = args.echo_gap_ms / 1000
    results["echo"] = {target: [] for target in TARGETS}
    results["pings"] = {"devbench": {"websocket": [], "app": []}, "terminado": {"websocket": []}}
    for block_start in range(0, args.echo_samples, ECHO_KEYS_PER_LINE):
        block = min(ECHO_KEYS_PER_LINE, args.echo_samples - block_start)
        warmup = args.echo_warmup if block_start == 0 else 0
        for target in TARGETS:
            results["echo"][target] += await measure_echo(links[target], block, warmup, gap)
        for target in ("devbench", "terminado"):
            for kind, latencies in (await measure_pings(links[target], max(1, block // 2), gap)).items():
                results["pings"][target][kind] += latencies
    for target in TARGETS:
        latencies = results["echo"][target]
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        log(f"echo {target}: p50 {p50:.3f} ms p99 {p99:.3f} ms")

    for target in ("devbench", "terminado"):
        slow = await measure_slow_client(links[target], flood_file, args.slow_seconds, recovery_timeout=60)
        results["slow_client"][target] = {**slow.__dict__, "growth": slow.growth}
        log(
            f"slow client {target}: RSS {mib(slow.baseline_rss)} -> peak {mib(slow.peak_rss)}, "
            f"recovered={slow.recovered} in {slow.recovery_seconds}"
        )

    results["summary"] = summarize(results)
    results["elapsed_seconds"] = time.monotonic() - started
    return results


def start_profilers(directory: Path, links: dict[str, TerminalLink]) -> list[subprocess.Popen]:
    """py-spy on each server during the floods only (it slows them: never in a recorded run)."""
    py_spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if py_spy is None:
        raise BenchError("--profile needs py-spy (pip install py-spy)")
    directory.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(link.server_pid),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(directory / f"{target}-flood.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for target, link in links.items()
        if link.server_pid is not None
    ]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        try:
            profiler.wait(timeout=15)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Devbench terminal vs terminado vs raw PTY (bench/README.md).")
    parser.add_argument("--flood-mb", type=int, default=32, help="flood size in MiB (default 32)")
    parser.add_argument("--runs", type=int, default=3, help="flood runs per target (default 3)")
    parser.add_argument("--echo-samples", type=int, default=500, help="measured keystrokes per target")
    parser.add_argument("--echo-warmup", type=int, default=20, help="keystrokes before measuring")
    parser.add_argument("--echo-gap-ms", type=float, default=5.0, help="pause between keystrokes")
    parser.add_argument("--slow-seconds", type=float, default=10.0, help="length of the slow-client phase")
    parser.add_argument(
        "--ack-bytes",
        type=int,
        default=1,
        help="Devbench client: acknowledge once this many bytes are unacknowledged (default 1: every frame)",
    )
    parser.add_argument(
        "--asgi-application",
        default="platform_core.asgi:application",
        help="what daphne serves (to measure a patched build; default platform_core.asgi:application)",
    )
    parser.add_argument("--profile", type=Path, help="py-spy the servers during the floods; stacks go here")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary directory (server logs)")
    parser.add_argument("--timeout", type=float, default=240.0, help="overall limit in seconds")
    parser.add_argument("--json", type=Path, help="write all results (and samples) as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the results block into this markdown file")
    return parser.parse_args()


async def main_async(args: argparse.Namespace) -> dict:
    environment = Environment(Path(tempfile.mkdtemp(prefix="devbench-terminal-bench-")), keep_temp=args.keep_temp)
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    try:
        return await asyncio.wait_for(run(args, environment), args.timeout)
    except TimeoutError:
        raise BenchError(f"the benchmark took over {args.timeout:.0f}s (--timeout)") from None
    finally:
        await environment.close()


def main() -> int:
    args = parse_args()
    command = " ".join([".venv/bin/python", os.path.relpath(Path(sys.argv[0]).resolve(), REPOSITORY), *sys.argv[1:]])
    try:
        results = asyncio.run(main_async(args))
    except BenchError as error:
        log(f"FAILED: {error}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; everything started was stopped")
        return 130
    results["machine"] = machine_info()
    results["config"] = {**{key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}}
    results["config"]["command"] = command
    print(markdown_results(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        write_markdown(args.markdown, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
