import asyncio
import contextlib
import ctypes
import errno
import fcntl
import os
import posixpath
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import structlog
from django.conf import settings
from django.utils import timezone

from workspaces.environment.installer import EnvironmentHookError, install_hooks
from workspaces.environment.pyright_config import ensure_pyright_config
from workspaces.platform_writes import write_file
from workspaces.runtime import venvs
from workspaces.runtime.base import (
    SYSTEM_PATH,
    InputOverflowError,
    OutputCallback,
    ProvisionStep,
    RuntimeProcess,
    WorkspaceRuntime,
)
from workspaces.runtime.sandbox import PROCESS_ROOT, Bubblewrap, SandboxUnavailableError

logger = structlog.get_logger(__name__)

VENV_TIMEOUT_SECONDS = 300
CHECK_TIMEOUT_SECONDS = 60
# Written into .venv once virtualenv has finished: a run cut short (a worker
# killed mid-way) leaves bin/python behind without pip or activate scripts, and
# the next run must build the venv again rather than take it as done.
VENV_COMPLETE_MARKER = ".devbench-venv-complete"


class ProvisioningError(RuntimeError):
    pass


class LocalRuntime(WorkspaceRuntime):
    """Workspaces as directories on the platform's own machine, each with a ``.venv``.

    With a ``sandbox`` (bubblewrap, workspaces/runtime/sandbox.py) every
    process runs in its own namespaces as an unprivileged user and sees its
    workspace at /workspace; without one, processes run as the platform's user
    in the workspace's host directory (development-grade isolation).
    """

    name = "local"

    def __init__(self, workspaces_root: Path, sandbox: Bubblewrap | None = None, *, refusal: str = ""):
        self.workspaces_root = Path(workspaces_root)
        self.sandbox = sandbox
        # Why no process may start at all (a sandbox is required and missing); files stay reachable.
        self.refusal = refusal

    def root(self, workspace_id: int) -> Path:
        return self.workspaces_root / f"ws-{int(workspace_id)}"

    def process_root(self, workspace_id: int) -> str:
        return PROCESS_ROOT if self.sandbox is not None else str(self.root(workspace_id))

    def host_path(self, workspace_id: int, path: str) -> Path | None:
        """Where a path as the workspace's processes see it lives on the host; None if they cannot see it."""
        process_root = self.process_root(workspace_id)
        path = posixpath.normpath(path)
        if path == process_root or path.startswith(process_root + "/"):
            return self.root(workspace_id) / path[len(process_root) :].lstrip("/")
        if self.sandbox is None or self.sandbox.shows(path):
            return Path(path)
        return None

    def trash_dir(self) -> Path:
        return self.workspaces_root / ".trash"

    # Provisioning ----------------------------------------------------------------------
    def provision(self, workspace_id: int, report: ProvisionStep) -> None:
        root = self.root(workspace_id)
        report(10, "Creating the workspace directory")
        if root.exists() and not root.is_dir():
            raise ProvisioningError(f"The workspace path exists but is not a directory ({root.name}).")
        root.mkdir(parents=True, exist_ok=True)

        self._ensure_venv(workspace_id, report)
        if not any(path for path in root.iterdir() if path.name != ".venv"):
            write_file(root, "main.py", b'print("Hello from Devbench")\n')
        # Also for an existing venv: re-provisioning repairs and upgrades the hooks.
        report(90, "Installing environment hooks")
        environment = self._tool_environment(workspace_id)
        try:
            install_hooks(
                root,
                root / ".venv",
                run=lambda argv, stdin: self.run(
                    workspace_id, argv, env=environment, input=stdin, timeout=VENV_TIMEOUT_SECONDS
                ),
                process_root=self.process_root(workspace_id),
            )
        except subprocess.TimeoutExpired as error:
            raise EnvironmentHookError(f"Installing the environment hooks took over {error.timeout:g}s.") from error
        ensure_pyright_config(root)
        report(95, "Workspace files ready")

    def _ensure_venv(self, workspace_id: int, report: ProvisionStep) -> None:
        """Create the venv, or move one made for other paths to the ones the processes see now.

        A venv bakes its absolute path into its scripts (``#!.../bin/python``)
        and activate files, so a venv made before the sandbox (host paths)
        would not run inside it, and the other way round. Re-running
        virtualenv over it rewrites its own files and keeps the installed
        packages; the relocation then fixes the scripts and editable installs
        those packages brought.
        """
        venv = self.root(workspace_id) / ".venv"
        wanted = posixpath.join(self.process_root(workspace_id), ".venv")
        existed = os.path.lexists(venv / "bin" / "python")
        recorded = venvs.recorded_path(venv) if existed else None
        if not (venv / VENV_COMPLETE_MARKER).exists():
            # virtualenv completes an unfinished venv in place (a worker killed
            # mid-way); packages already installed in an older venv are kept.
            report(30, "Creating the virtual environment (.venv)")
            self._create_venv(workspace_id)
            if recorded is not None and not self._same_process_path(recorded, wanted):
                self._check(workspace_id, venvs.relocation_command(recorded, wanted), "Moving the virtual environment")
        elif recorded is not None and not self._same_process_path(recorded, wanted):
            # No path in the message: the job's log is shown to the workspace's owners.
            report(40, "Moving the virtual environment to the paths its processes see now (packages are kept)")
            self._create_venv(workspace_id)
            self._check(workspace_id, venvs.relocation_command(recorded, wanted), "Moving the virtual environment")
        else:
            report(80, "Virtual environment already present")
        if existed and not self._venv_runs(workspace_id):
            # Its interpreter is not one the workspace can see (or is gone): start afresh.
            report(50, "Re-creating the virtual environment: its Python does not run here; reinstall your packages")
            self._create_venv(workspace_id, clear=True)
        write_file(self.root(workspace_id), f".venv/{VENV_COMPLETE_MARKER}", b"virtualenv finished\n")

    def _same_process_path(self, first: str, second: str) -> bool:
        if first == second:
            return True
        # Outside a sandbox the paths are the host's, where links may spell one directory two ways.
        return self.sandbox is None and os.path.realpath(first) == os.path.realpath(second)

    def _create_venv(self, workspace_id: int, *, clear: bool = False) -> None:
        python = settings.WORKSPACE_PYTHON or sys.executable
        venv = posixpath.join(self.process_root(workspace_id), ".venv")
        # virtualenv seeds pip from wheels it ships (no network) and is about
        # ten times faster than `python -m venv`, which runs ensurepip each time.
        # It runs in the workspace, so the venv records the paths its processes see.
        argv = [sys.executable, "-m", "virtualenv", "--quiet", "--no-periodic-update", "--python", python, venv]
        if clear:
            argv.insert(-1, "--clear")
        self._check(workspace_id, argv, "Creating the virtual environment")

    def _venv_runs(self, workspace_id: int) -> bool:
        python = posixpath.join(self.process_root(workspace_id), ".venv", "bin", "python")
        try:
            completed = self.run(
                workspace_id,
                [python, "-I", "-c", "import sys"],
                env=self._tool_environment(workspace_id),
                timeout=CHECK_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return completed.returncode == 0

    def _check(self, workspace_id: int, argv: list[str], what: str) -> None:
        """Run a provisioning step in the workspace; raise ``ProvisioningError`` with its output if it fails."""
        try:
            completed = self.run(
                workspace_id, argv, env=self._tool_environment(workspace_id), timeout=VENV_TIMEOUT_SECONDS
            )
        except FileNotFoundError as error:
            raise ProvisioningError(f"{what} failed: {error}") from error
        except subprocess.TimeoutExpired as error:
            raise ProvisioningError(f"{what} took over {VENV_TIMEOUT_SECONDS}s.") from error
        if completed.returncode != 0:
            output = (completed.stderr or completed.stdout).decode("utf-8", "replace").strip()[-1500:]
            raise ProvisioningError(f"{what} failed: {output}")

    def _tool_environment(self, workspace_id: int) -> dict[str, str]:
        """The environment of provisioning's own commands in the workspace."""
        # In the sandbox HOME is its private /tmp, so virtualenv's wheel cache
        # is thrown away with it; outside, it is the platform user's cache.
        home = "/tmp" if self.sandbox is not None else os.environ.get("HOME", "/tmp")  # noqa: S108 - private tmpfs
        return {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "HOME": home, "PYTHONDONTWRITEBYTECODE": "1"}

    def discard(self, workspace_id: int) -> Path | None:
        root = self.root(workspace_id)
        if not root.exists():
            return None
        # Deleted workspaces go to a trash folder, not straight to oblivion:
        # an administrator can still recover them until the trash is purged.
        trash = self.trash_dir()
        trash.mkdir(parents=True, exist_ok=True)
        destination = trash / f"{root.name}-{timezone.now():%Y%m%dT%H%M%S%f}"
        shutil.move(str(root), str(destination))
        return destination

    # Processes -------------------------------------------------------------------------
    def _command(self, workspace_id: int, argv: list[str], env: dict[str, str], cwd: str | None):
        """The host command line and directory that run ``argv`` in the workspace."""
        if self.refusal:
            raise SandboxUnavailableError(self.refusal)
        root = self.root(workspace_id)
        if not root.is_dir():
            raise FileNotFoundError(f"The workspace directory of workspace {workspace_id} does not exist.")
        relative = _relative_cwd(root, cwd)
        argv = [self._find_program(workspace_id, argv[0], env), *argv[1:]]
        if self.sandbox is None:
            return argv, root / relative
        inside = posixpath.join(PROCESS_ROOT, relative.as_posix()) if relative.parts else PROCESS_ROOT
        return self.sandbox.command(root, argv, cwd=inside), root

    def _find_program(self, workspace_id: int, program: str, env: dict[str, str]) -> str:
        """``program`` as the process will see it, found on the environment's PATH; FileNotFoundError if missing."""
        if "/" in program:
            candidates = [program]
        else:
            candidates = [posixpath.join(entry, program) for entry in env.get("PATH", os.defpath).split(":") if entry]
        for candidate in candidates:
            host = self.host_path(workspace_id, candidate) if candidate.startswith("/") else Path(candidate)
            if host is not None and host.is_file() and os.access(host, os.X_OK):
                return candidate
        raise FileNotFoundError(f"{program}: command not found")

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
        command, workdir = self._command(workspace_id, argv, env, cwd)
        loop = asyncio.get_running_loop()
        sandboxed = self.sandbox is not None
        # Forking happens on the calling (event-loop) thread on purpose: the
        # kernel's parent-death signal fires when the forking *thread* exits,
        # and executor threads come and go.
        if tty:
            return LocalProcess.start_pty(
                loop, command, env=env, cwd=workdir, cols=cols, rows=rows, sandboxed=sandboxed
            )
        return LocalProcess.start_pipes(loop, command, env=env, cwd=workdir, sandboxed=sandboxed)

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
        command, workdir = self._command(workspace_id, argv, env, cwd)
        completed = subprocess.run(  # noqa: S603 - argv list, no shell
            command,
            input=input,
            capture_output=True,
            env=env,
            cwd=workdir,
            timeout=timeout,
            check=False,
            start_new_session=True,
            # Dies with the worker process: a virtualenv left running after a
            # kill would race the retry writing the same venv.
            preexec_fn=_die_with_parent(os.getpid()),
        )
        if self.sandbox is not None:
            completed.returncode = sandboxed_exit_code(completed.returncode)
        return completed


def _relative_cwd(root: Path, cwd: str | None) -> Path:
    if not cwd:
        return Path()
    relative = Path(cwd)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError("cwd must be a path inside the workspace.")
    if not (root / relative).is_dir():
        raise FileNotFoundError(f"{cwd}: no such directory in the workspace.")
    return relative


def sandboxed_exit_code(code: int) -> int:
    """The exit code of the program in a sandbox, from bubblewrap's: 128 + N means signal N, as in shells."""
    if 128 < code < 128 + signal.NSIG:
        return -(code - 128)
    return code


# Processes ------------------------------------------------------------------------

READ_CHUNK_BYTES = 64 * 1024
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# How long to wait for a SIGKILLed process before leaving it to the exit watcher.
KILL_WAIT_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1

try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: processes then end with the master side of their PTY
    _prctl = None


# Dispositions a shell must start with: ignored signals survive exec and a
# shell cannot un-ignore them (Python ignores SIGPIPE, so `yes | head` would
# print "Broken pipe"; a server started under nohup ignores SIGHUP).
_RESET_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGPIPE", "SIGXFSZ", "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGTSTP", "SIGTTIN", "SIGTTOU")
    if hasattr(signal, name)
)


def _prepare_pty_child(parent_pid: int) -> None:
    """In the forked child, before exec: default signal handling, and die with the platform (Linux)."""
    for sig in _RESET_SIGNALS:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)


def _die_with_parent(parent_pid: int):
    """A preexec_fn that gives the child SIGKILL when its parent dies (Linux; no-op elsewhere)."""

    def prepare() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)

    return prepare


def session_processes(session_id: int) -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of the live (not zombie) processes in session ``session_id``.

    Linux /proc; empty elsewhere.
    """
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        # After "pid (comm)": state, ppid, pgrp, session, ...
        if len(fields) > 3 and int(fields[3]) == session_id and fields[0] != b"Z":
            members.append((int(entry), int(fields[1]), int(fields[2])))
    return members


def session_members(session_id: int) -> list[int]:
    """Pids of the live (not zombie) processes in session ``session_id`` (Linux /proc; empty elsewhere)."""
    return [pid for pid, _, _ in session_processes(session_id)]


class LocalProcess(RuntimeProcess):
    """A workspace process on this machine: a PTY (via ptyprocess) or stdin/stdout/stderr pipes.

    Descriptors are non-blocking and read with ``loop.add_reader``; the exit
    is noticed through a pidfd (a ``waitpid`` poll where pidfds are missing)
    and this object reaps the process itself. The process leads its own
    session; whatever is left in that session when it exits or is terminated
    (background jobs of a shell) is killed too, so nothing outlives it.

    A ``sandboxed`` process is bubblewrap, which runs the program as the
    child of its own init inside new namespaces: ``pid`` is bubblewrap's.
    Catchable signals go to the program and what it started, never to the two
    bubblewrap processes (they would die at once and take the program down
    without its chance to clean up); SIGKILL goes to everything; the exit code
    is the program's (bubblewrap reports a signal N as 128 + N, as shells do).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pid: int,
        *,
        tty: bool,
        input_fd: int,
        output_fds: dict[str, int],
        keepalive: object,
        sandboxed: bool = False,
    ):
        self.loop = loop
        self.pid = pid
        self.tty = tty
        self.sandboxed = sandboxed
        self._program_pid: int | None = None if sandboxed else pid
        self.returncode = None
        self._keepalive = keepalive  # the Popen / PtyProcess: its own cleanup must never run waitpid for us
        self._input_fd: int | None = input_fd
        self._output_fds = dict(output_fds)  # stream -> fd, until that stream ends
        self._callback: OutputCallback | None = None
        self._paused = False
        self._pending_input = bytearray()
        self._writing = False
        self._close_input_when_flushed = False
        self._exited = loop.create_future()
        self._closed = False
        for fd in {input_fd, *output_fds.values()}:
            os.set_blocking(fd, False)
        self._pidfd: int | None = None
        self._poll_handle: asyncio.TimerHandle | None = None
        try:
            self._pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._poll_handle = loop.call_later(0.1, self._poll_exit)
        else:
            loop.add_reader(self._pidfd, self._on_exit_ready)

    # Starting -----------------------------------------------------------------
    @classmethod
    def start_pty(cls, loop, argv, *, env, cwd: Path, cols: int, rows: int, sandboxed: bool = False) -> "LocalProcess":
        from ptyprocess import PtyProcess

        parent = os.getpid()
        pty = PtyProcess.spawn(
            argv, cwd=str(cwd), env=env, dimensions=(rows, cols), preexec_fn=lambda: _prepare_pty_child(parent)
        )
        # Own a plain descriptor and retire ptyprocess's file objects: its
        # close() sleeps and calls waitpid, neither of which may happen here.
        fd = os.dup(pty.fd)
        os.set_inheritable(fd, False)
        pty.fileobj.close()
        pty.closed = True
        return cls(loop, pty.pid, tty=True, input_fd=fd, output_fds={"stdout": fd}, keepalive=pty, sandboxed=sandboxed)

    @classmethod
    def start_pipes(cls, loop, argv, *, env, cwd: Path, sandboxed: bool = False) -> "LocalProcess":
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            close_fds=True,
            start_new_session=True,
            bufsize=0,
        )
        fds = {}
        for name, pipe in (("stdin", popen.stdin), ("stdout", popen.stdout), ("stderr", popen.stderr)):
            fds[name] = os.dup(pipe.fileno())
            os.set_inheritable(fds[name], False)
            pipe.close()
        return cls(
            loop,
            popen.pid,
            tty=False,
            input_fd=fds["stdin"],
            output_fds={"stdout": fds["stdout"], "stderr": fds["stderr"]},
            keepalive=popen,
            sandboxed=sandboxed,
        )

    # Output -----------------------------------------------------------------
    def start_reading(self, callback: OutputCallback) -> None:
        if self._callback is not None:
            raise RuntimeError("This process's output is already being read.")
        self._callback = callback
        if not self._paused:
            self._add_readers()

    def pause_reading(self) -> None:
        if not self._paused:
            self._paused = True
            self._remove_readers()

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            if self._callback is not None:
                self._add_readers()

    def _add_readers(self) -> None:
        for stream, fd in self._output_fds.items():
            self.loop.add_reader(fd, self._on_readable, stream)

    def _remove_readers(self) -> None:
        for fd in self._output_fds.values():
            self.loop.remove_reader(fd)

    def _on_readable(self, stream: str) -> None:
        fd = self._output_fds.get(stream)
        if fd is None:
            return
        # A PTY hands out at most its line-discipline buffer (4 KiB) per read;
        # reading on until it is empty delivers a flood in fewer, larger chunks.
        parts: list[bytes] = []
        size = 0
        ended = False
        while size < READ_CHUNK_BYTES:
            try:
                part = os.read(fd, READ_CHUNK_BYTES - size)
            except BlockingIOError:
                break
            except OSError as error:
                # A PTY whose other side is closed answers EIO instead of EOF.
                if error.errno != errno.EIO:
                    logger.warning("process_read_failed", pid=self.pid, error=str(error))
                ended = True
                break
            if not part:
                ended = True
                break
            parts.append(part)
            size += len(part)
        if parts:
            self._callback(stream, parts[0] if len(parts) == 1 else b"".join(parts))
        if ended:
            self._end_stream(stream)

    def _end_stream(self, stream: str) -> None:
        fd = self._output_fds.pop(stream, None)
        if fd is None:
            return
        self.loop.remove_reader(fd)
        if fd != self._input_fd:
            os.close(fd)
        if self._callback is not None:
            self._callback(stream, b"")

    def _drain(self) -> None:
        """After the exit: deliver what is still buffered in the kernel, then end every stream."""
        for stream in list(self._output_fds):
            fd = self._output_fds[stream]
            if self._callback is not None:
                while True:
                    try:
                        chunk = os.read(fd, READ_CHUNK_BYTES)
                    except OSError:
                        break
                    if not chunk:
                        break
                    self._callback(stream, chunk)
            self._end_stream(stream)

    # Input ----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._input_fd is None or self._close_input_when_flushed or not data:
            return
        if len(self._pending_input) + len(data) > self.max_pending_input_bytes:
            raise InputOverflowError("The process is not reading its input; the input was dropped.")
        self._pending_input += data
        self._flush_input()

    def _flush_input(self) -> None:
        fd = self._input_fd
        if fd is None:
            return
        while self._pending_input:
            try:
                written = os.write(fd, self._pending_input)
            except BlockingIOError:
                break
            except OSError:  # the process closed its input or exited: input has nowhere to go
                self._pending_input.clear()
                break
            del self._pending_input[:written]
        if self._pending_input and not self._writing:
            self.loop.add_writer(fd, self._flush_input)
            self._writing = True
        elif not self._pending_input:
            if self._writing:
                self.loop.remove_writer(fd)
                self._writing = False
            if self._close_input_when_flushed and not self.tty:
                self._close_input()

    def _close_input(self) -> None:
        fd, self._input_fd = self._input_fd, None
        if fd is None:
            return
        if self._writing:
            self.loop.remove_writer(fd)
            self._writing = False
        self._pending_input.clear()
        if fd not in self._output_fds.values():
            os.close(fd)

    def close_stdin(self) -> None:
        if self.tty:
            self.write(b"\x04")
            return
        self._close_input_when_flushed = True
        self._flush_input()

    # Control -------------------------------------------------------------------
    def resize(self, cols: int, rows: int) -> None:
        if not self.tty or self._input_fd is None:
            return
        with contextlib.suppress(OSError):
            fcntl.ioctl(self._input_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def foreground_process_group(self) -> int | None:
        if not self.tty or self._input_fd is None or self.returncode is not None:
            return None
        try:
            return os.tcgetpgrp(self._input_fd)
        except OSError:
            return None

    def runs_foreground_command(self) -> bool:
        group = self.foreground_process_group()
        if group is None:
            return False
        return group not in (self.pid, self._find_program_pid())

    def _find_program_pid(self) -> int | None:
        """The program's pid (bubblewrap's init's child when sandboxed), once it has started."""
        if self._program_pid is None:
            members = session_processes(self.pid)
            helpers = self._sandbox_helpers(members)
            self._program_pid = next(
                (pid for pid, parent, _ in members if parent in helpers and pid not in helpers), None
            )
        return self._program_pid

    def _sandbox_helpers(self, members: list[tuple[int, int, int]]) -> set[int]:
        """Bubblewrap itself and its init, which run nothing of the workspace's."""
        return {self.pid} | {pid for pid, parent, _ in members if parent == self.pid}

    def _signal_group(self, group: int, sig: int) -> None:
        if not self.sandboxed or group != self.pid or sig == signal.SIGKILL:
            os.killpg(group, sig)
            return
        members = session_processes(self.pid)
        helpers = self._sandbox_helpers(members)
        for pid, _, member_group in members:
            if member_group == group and pid not in helpers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            return
        group = self.foreground_process_group() or self.pid
        try:
            self._signal_group(group, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._find_program_pid() or self.pid, sig)

    # Exit -----------------------------------------------------------------------
    def _on_exit_ready(self) -> None:
        self._reap()

    def _poll_exit(self) -> None:
        self._poll_handle = None
        if not self._reap():
            self._poll_handle = self.loop.call_later(0.1, self._poll_exit)

    def _reap(self) -> bool:
        """Collect the exit status if the process has exited; True once it has."""
        if self.returncode is not None:
            return True
        try:
            # Look without reaping: while it is an unreaped zombie its pid (and
            # session id) cannot be reused, so what is left of its session can
            # be killed safely first.
            if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                return False
            self._kill_session_leftovers()
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            if self.sandboxed:
                self.returncode = sandboxed_exit_code(self.returncode)
        except ChildProcessError:
            self.returncode = 255  # reaped by someone else: the status is lost
        self._keepalive_reaped()
        if self._pidfd is not None:
            self.loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poll_handle is not None:
            self._poll_handle.cancel()
            self._poll_handle = None
        self._drain()
        self._release_descriptors()
        if not self._exited.done():
            with contextlib.suppress(RuntimeError):  # the loop is already closed (interpreter exit)
                self._exited.set_result(self.returncode)
        return True

    def _keepalive_reaped(self) -> None:
        # Tell the spawning library the child is gone so it never waits on the pid again.
        if isinstance(self._keepalive, subprocess.Popen):
            self._keepalive.returncode = self.returncode
        else:
            self._keepalive.terminated = True

    def _kill_session_leftovers(self) -> None:
        for member in session_members(self.pid):
            if member != self.pid:
                with contextlib.suppress(OSError):
                    os.kill(member, signal.SIGKILL)

    def _release_descriptors(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._remove_readers()
        for stream in list(self._output_fds):
            fd = self._output_fds.pop(stream)
            if fd != self._input_fd:
                os.close(fd)
        if self._input_fd is not None:
            if self._writing:
                self.loop.remove_writer(self._input_fd)
                self._writing = False
            os.close(self._input_fd)
            self._input_fd = None

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def _signal_everything(self, sig: int) -> None:
        if self.returncode is not None:
            return
        targets = {self.pid}
        foreground = self.foreground_process_group()
        if foreground:
            targets.add(foreground)
        for group in targets:
            with contextlib.suppress(OSError):
                self._signal_group(group, sig)
        if sig in (signal.SIGHUP, signal.SIGTERM):
            # A stopped job (Ctrl+Z) only acts on its signal once continued.
            for group in targets:
                with contextlib.suppress(OSError):
                    self._signal_group(group, signal.SIGCONT)

    async def terminate(self, grace_seconds: float = 2.0) -> int:
        steps = ((signal.SIGHUP, grace_seconds / 2), (signal.SIGTERM, grace_seconds / 2), (signal.SIGKILL, None))
        for sig, timeout in steps:
            if self.returncode is not None:
                break
            self._signal_everything(sig)
            try:
                await asyncio.wait_for(asyncio.shield(self._exited), timeout or KILL_WAIT_SECONDS)
            except TimeoutError:
                if timeout is None:
                    logger.error("process_unkillable", pid=self.pid)
                    return -signal.SIGKILL
        await self._until_session_is_gone()
        return self.returncode

    async def _until_session_is_gone(self) -> None:
        """Wait (bounded) until what was left of the session has died, not just been sent SIGKILL.

        A killed sandbox takes a moment to tear down its pid namespace, and
        its init is no child of ours to wait for. The session id stays the
        process's while any member lives, so it cannot name anyone else.
        """
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while session_members(self.pid):
            if time.monotonic() > deadline:
                logger.error("process_session_lingers", pid=self.pid, members=session_members(self.pid))
                return
            await asyncio.sleep(0.01)

    def kill_now(self) -> None:
        if self.returncode is not None:
            return
        self._callback = None  # nobody is left to take the output
        self._kill_session_leftovers()
        self._signal_everything(signal.SIGKILL)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not self._reap():
            time.sleep(0.01)

    def memory_bytes(self) -> int | None:
        if self.returncode is not None:
            return None
        total = 0
        for pid in session_members(self.pid):
            try:
                with open(f"/proc/{pid}/statm", "rb") as statm:
                    total += int(statm.read().split()[1]) * _PAGE_SIZE
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
        return total

    def __repr__(self) -> str:
        return f"<LocalProcess pid={self.pid} tty={self.tty} returncode={self.returncode}>"
