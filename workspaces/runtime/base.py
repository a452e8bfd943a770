import asyncio
import subprocess
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from pathlib import Path

# The system's programs, never the platform's own virtualenv: the start of a workspace process's PATH.
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

# Called with (percent, message) as provisioning advances.
ProvisionStep = Callable[[int, str], None]

# Called on the event loop with (stream, chunk) as a process writes output;
# ``stream`` is "stdout" or "stderr" and an empty chunk marks that stream's end.
OutputCallback = Callable[[str, bytes], None]


class InputOverflowError(RuntimeError):
    """More input is queued for a process than it has read; the new input was dropped."""


class RuntimeProcess(ABC):
    """A process running in a workspace, started by ``WorkspaceRuntime.spawn``.

    Output is pushed, not pulled: ``start_reading(callback)`` delivers chunks on
    the event loop as the process writes them (``loop.add_reader`` underneath,
    so nothing blocks), and ``pause_reading`` / ``resume_reading`` give callers
    flow control: while paused nothing is read, so a chatty process blocks on
    its own writes instead of filling our memory. Callers that prefer pulling
    use ``read``, ``stdout_lines`` or ``stderr_lines``, built on the same
    callbacks; a process is read one way or the other, not both. With a TTY,
    stdout and stderr arrive merged as "stdout". ``wait`` resolves after the
    last output was delivered; ``terminate`` escalates SIGHUP, SIGTERM,
    SIGKILL, always reaps the process and closes every descriptor.
    """

    pid: int
    tty: bool
    returncode: int | None = None
    # Input waiting for the process beyond this makes ``write`` raise
    # InputOverflowError. A shell's 1 MiB bounds a paste it is not reading; a
    # language server gets more, since one message (a whole file) can be larger.
    max_pending_input_bytes: int = 1024 * 1024
    _pull_streams: "dict[str, asyncio.StreamReader] | None" = None

    # Output -----------------------------------------------------------------
    @abstractmethod
    def start_reading(self, callback: OutputCallback) -> None:
        """Start delivering output to ``callback`` (once per process)."""

    @abstractmethod
    def pause_reading(self) -> None:
        """Stop reading output until ``resume_reading``; idempotent."""

    @abstractmethod
    def resume_reading(self) -> None:
        """Read output again after ``pause_reading``; idempotent."""

    # Input and control ------------------------------------------------------
    @abstractmethod
    def write(self, data: bytes) -> None:
        """Queue ``data`` for the process's stdin without blocking.

        Raises ``InputOverflowError`` (dropping ``data``) when too much input
        is already waiting for the process to read it.
        """

    @abstractmethod
    def close_stdin(self) -> None:
        """End the process's input (EOF) once queued input is written; with a TTY, sends ^D."""

    @abstractmethod
    def resize(self, cols: int, rows: int) -> None:
        """Set the terminal size (TTY only; ignored for pipes)."""

    @abstractmethod
    def send_signal(self, sig: int) -> None:
        """Signal the foreground process group (TTY) or the process's group (pipes); no-op once exited."""

    @abstractmethod
    def foreground_process_group(self) -> int | None:
        """The TTY's foreground process group, or None (pipes, or unknown)."""

    def runs_foreground_command(self) -> bool:
        """Whether something other than the program itself holds the TTY (a shell runs a command)."""
        group = self.foreground_process_group()
        return group is not None and group != self.pid

    # Lifetime ---------------------------------------------------------------
    @abstractmethod
    async def wait(self) -> int:
        """Wait for the exit and the end of its output; the exit code, negative for a signal."""

    @abstractmethod
    async def terminate(self, grace_seconds: float = 2.0) -> int:
        """Stop the process (SIGHUP, then SIGTERM, then SIGKILL), reap it, close its descriptors.

        Safe to call more than once and after the process exited on its own.
        """

    @abstractmethod
    def kill_now(self) -> None:
        """SIGKILL the process and everything in its session, synchronously (interpreter exit)."""

    def is_running(self) -> bool:
        return self.returncode is None

    def memory_bytes(self) -> int | None:
        """Resident memory of the process and everything it started, or None if unknown."""
        return None

    # Pull-style helpers on top of the callbacks ----------------------------------
    def _streams(self) -> "dict[str, asyncio.StreamReader]":
        if self._pull_streams is None:
            streams = {"stdout": asyncio.StreamReader(limit=1 << 20), "stderr": asyncio.StreamReader(limit=1 << 20)}
            pauser = _SharedPause(self)
            for stream in streams.values():
                # StreamReader pauses its "transport" when its buffer grows past
                # twice its limit: that becomes flow control on the process.
                stream.set_transport(pauser)  # type: ignore[arg-type]

            def deliver(name: str, chunk: bytes) -> None:
                if chunk:
                    streams[name].feed_data(chunk)
                else:
                    streams[name].feed_eof()

            self._pull_streams = streams
            self.start_reading(deliver)
            if self.tty:
                streams["stderr"].feed_eof()
        return self._pull_streams

    async def read(self, max_bytes: int = 65536, stream: str = "stdout") -> bytes:
        """Up to ``max_bytes`` of output; b"" at the end of the stream."""
        return await self._streams()[stream].read(max_bytes)

    async def stdout_lines(self) -> AsyncIterator[str]:
        """Lines of stdout (decoded as UTF-8, newline kept) until it ends."""
        async for line in self._streams()["stdout"]:
            yield line.decode("utf-8", "replace")

    async def stderr_lines(self) -> AsyncIterator[str]:
        """Lines of stderr (decoded as UTF-8, newline kept) until it ends; nothing with a TTY."""
        async for line in self._streams()["stderr"]:
            yield line.decode("utf-8", "replace")


class _SharedPause:
    """Looks like a transport to asyncio.StreamReader; pauses the process while any reader is full."""

    def __init__(self, process: RuntimeProcess):
        self.process = process
        self.paused_by = 0

    def pause_reading(self) -> None:
        self.paused_by += 1
        self.process.pause_reading()

    def resume_reading(self) -> None:
        self.paused_by = max(0, self.paused_by - 1)
        if self.paused_by == 0:
            self.process.resume_reading()


class WorkspaceRuntime(ABC):
    """The interface every workspace backend implements (local directories, Docker).

    ``root`` is where the platform reads and writes the workspace's files;
    browser-visible paths are always relative to it. ``process_root`` is
    where the workspace's own processes see those files: every path handed
    to a process (argv, cwd, environment, language-server URIs) is built on
    it, never on ``root``.
    """

    name: str

    @abstractmethod
    def root(self, workspace_id: int) -> Path:
        """Host path of the workspace's files."""

    @abstractmethod
    def process_root(self, workspace_id: int) -> str:
        """The workspace's root as its processes see it: /workspace when they are confined, else ``root``."""

    @abstractmethod
    def provision(self, workspace_id: int, report: ProvisionStep) -> None:
        """Create (or repair) the workspace's directory and environment. Idempotent."""

    @abstractmethod
    def discard(self, workspace_id: int) -> Path | None:
        """Move the workspace's files out of service; return where they were kept, if anywhere."""

    @abstractmethod
    async def spawn(
        self,
        workspace_id: int,
        argv: list[str],
        *,
        tty: bool,
        env: dict[str, str],
        cwd: str | None = None,
        cols: int = 80,
        rows: int = 24,
    ) -> RuntimeProcess:
        """Start ``argv`` in the workspace: the one way any feature starts a workspace process.

        ``env`` is the whole environment (nothing is inherited from the
        platform); paths in ``argv`` and ``env`` are as the process sees them
        (built on ``process_root``); a bare program name is looked up on
        ``env["PATH"]``. ``cwd`` is relative to the workspace root, which is the
        default. With ``tty`` the process gets a pseudo-terminal of
        ``cols`` x ``rows``; without, stdin/stdout/stderr pipes. Either way it
        leads its own session, so signals reach its whole process group.
        Raises ``FileNotFoundError`` if the workspace or the program is missing.
        """

    @abstractmethod
    def run(
        self,
        workspace_id: int,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str | None = None,
        input: bytes | None = None,
        timeout: float,
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` in the workspace to completion, blocking: provisioning's steps, not user sessions.

        Same environment, paths and confinement as ``spawn``; stdout and
        stderr are captured as bytes. Raises ``FileNotFoundError`` like
        ``spawn`` and ``subprocess.TimeoutExpired`` (the process is killed).
        """
