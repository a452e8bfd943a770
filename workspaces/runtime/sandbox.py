"""The local runtime's sandbox: every workspace process inside bubblewrap.

What a sandboxed process sees (docs/architecture.md, "Isolation"):

- ``/workspace``: its own workspace directory, writable; a private ``/tmp``;
- read-only: ``/usr`` (and the ``/bin``, ``/lib``... links into it), the few
  ``/etc`` files that a shell, Python, git and pip need, and the interpreters
  workspace venvs are made from plus the platform's own virtualenv (language
  servers, virtualenv), each at its real path, so that a venv's
  ``pyvenv.cfg`` and the language servers' paths mean the same inside;
- its own ``/proc`` (its own processes only), ``/dev`` (null, zero, random,
  tty and its own ptys), hostname and IPC; with ``WORKSPACE_SANDBOX_NETWORK``
  off, its own empty network too;
- uid and gid 1000 ("workspace") in a user namespace, with no capabilities.

Nothing else: no other workspace, no ``DATA_DIR`` (database, logs, broker),
no platform source tree, and no environment but the one ``spawn`` was given.

Why a list of ``/etc`` files and not ``/etc``: when the platform runs as root,
the sandbox's user is root outside its namespace, and the owner of every
root-owned file it can see (``/etc/shadow``, TLS keys). So only files that any
local user may read anyway are shown, one by one.
"""

import functools
import os
import posixpath
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import structlog
from django.conf import settings

logger = structlog.get_logger(__name__)

# Where the workspace directory appears inside the sandbox; the Docker runtime uses the same.
PROCESS_ROOT = "/workspace"
SANDBOX_UID = 1000
SANDBOX_HOSTNAME = "workspace"
SANDBOX_FILES = Path(__file__).resolve().parent / "sandbox_files"

# /etc entries shown read-only when present and readable by anyone on the host.
ETC_ENTRIES = (
    "alternatives",  # Debian's /usr/bin/editor, awk, ... are links through here
    "ca-certificates",
    "ca-certificates.conf",
    "gai.conf",
    "gitconfig",
    "host.conf",
    "hosts",
    "inputrc",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "locale.alias",
    "localtime",
    "magic",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "pip.conf",
    "pki/ca-trust/extracted",
    "pki/tls/certs",
    "protocols",
    "resolv.conf",
    "services",
    "ssh/ssh_config",
    "ssh/ssh_config.d",
    "ssl/certs",
    "ssl/openssl.cnf",
    "terminfo",
    "timezone",
    "xdg/pip",
)
# Top-level directories of the host that are (on merged-/usr systems) links into /usr.
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
PROBE_TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class Bubblewrap:
    """How to run a workspace's processes inside bubblewrap (see the module docstring).

    ``read_only_paths`` are host directories shown read-only at their own
    path (interpreters, the platform's virtualenv); ``share_network`` keeps
    the host's network.
    """

    executable: str
    read_only_paths: tuple[str, ...]
    share_network: bool = True

    def command(self, workspace_root: Path, argv: list[str], cwd: str = PROCESS_ROOT) -> list[str]:
        """The host command line that runs ``argv`` (process-visible paths) in the workspace's sandbox."""
        command = [
            self.executable,
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
        if not self.share_network:
            command.append("--unshare-net")
        command += [
            "--uid",
            str(SANDBOX_UID),
            "--gid",
            str(SANDBOX_UID),
            "--hostname",
            SANDBOX_HOSTNAME,
            "--cap-drop",
            "ALL",
            # The sandbox dies with the platform process that started it.
            "--die-with-parent",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        command += _root_links()
        # Private, empty temporary directories: tmpfs mounts that live as long as the sandbox.
        command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var", "--tmpfs", "/var/tmp"]  # noqa: S108
        for entry in _readable_etc_entries():
            command += ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
        command += ["--ro-bind", str(SANDBOX_FILES / "passwd"), "/etc/passwd"]
        command += ["--ro-bind", str(SANDBOX_FILES / "group"), "/etc/group"]
        for path in self.read_only_paths:
            command += ["--ro-bind", path, path]
        command += ["--bind", str(workspace_root), PROCESS_ROOT]
        # The sandbox's own root (where /etc, /var... were made) turns read-only: only
        # /workspace and the private temporary directories stay writable.
        command += ["--remount-ro", "/", "--chdir", cwd, "--", *argv]
        return command

    def shows(self, path: str) -> bool:
        """Whether a process-visible path outside /workspace is a host path shown in the sandbox."""
        path = posixpath.normpath(path)
        visible = ("/usr", *(f"/{name}" for name in ROOT_LINKS), *self.read_only_paths)
        return any(path == root or path.startswith(root.rstrip("/") + "/") for root in visible)


@functools.cache
def _root_links() -> tuple[str, ...]:
    arguments: list[str] = []
    for name in ROOT_LINKS:
        path = f"/{name}"
        if os.path.islink(path):
            arguments += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):  # a system without merged /usr
            arguments += ["--ro-bind", path, path]
    return tuple(arguments)


@functools.cache
def _readable_etc_entries() -> tuple[str, ...]:
    entries = []
    for entry in ETC_ENTRIES:
        try:
            status = os.stat(f"/etc/{entry}")  # follows links: what the bind mount will show
        except OSError:
            continue
        readable = status.st_mode & stat.S_IROTH
        if stat.S_ISDIR(status.st_mode):
            readable = readable and status.st_mode & stat.S_IXOTH
        if readable:
            entries.append(entry)
    return tuple(entries)


def read_only_paths(workspace_python: str = "") -> tuple[str, ...]:
    """The interpreters behind workspace venvs and the platform's virtualenv, as host directories.

    Workspace venvs point at their base interpreter (``pyvenv.cfg``'s
    ``home``) and language servers run from the platform's virtualenv; both
    must exist at the same path inside. A workspace's own ``pyvenv.cfg`` is
    not trusted to choose what is shown: it is a file the workspace writes.
    """
    candidates = [sys.base_prefix, sys.prefix, os.path.realpath(sys.prefix)]
    if workspace_python:
        candidates.append(_base_prefix_of(workspace_python))
    paths: list[str] = []
    for candidate in candidates:
        path = posixpath.normpath(candidate) if candidate else ""
        if not path.startswith("/") or path == "/" or not os.path.isdir(path):
            continue
        if path == "/usr" or path.startswith("/usr/") or path in paths:
            continue  # shown anyway
        paths.append(path)
    return tuple(paths)


@functools.cache
def _base_prefix_of(python: str) -> str:
    try:
        completed = subprocess.run(
            [python, "-I", "-c", "import sys; print(sys.base_prefix)"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return completed.stdout.strip() if completed.returncode == 0 else ""


@dataclass(frozen=True)
class SandboxStatus:
    """Whether workspace processes are sandboxed here, and if not, why."""

    sandbox: Bubblewrap | None
    problem: str = ""


def sandbox_status() -> SandboxStatus:
    """The sandbox the settings ask for, if it works on this machine (probed once per process)."""
    if settings.WORKSPACE_SANDBOX == "off":
        return SandboxStatus(None, "WORKSPACE_SANDBOX is off.")
    executable = shutil.which("bwrap") or shutil.which("bwrap", path="/usr/local/bin:/usr/bin:/bin")
    if executable is None:
        return SandboxStatus(None, "bubblewrap is not installed (apt-get install bubblewrap).")
    sandbox = Bubblewrap(
        executable=executable,
        read_only_paths=read_only_paths(settings.WORKSPACE_PYTHON),
        share_network=settings.WORKSPACE_SANDBOX_NETWORK,
    )
    problem = _probe(sandbox)
    return SandboxStatus(None, problem) if problem else SandboxStatus(sandbox)


class SandboxUnavailableError(OSError):
    """WORKSPACE_SANDBOX=bubblewrap, but bubblewrap cannot run here: no workspace process may start."""


def sandbox_from_settings() -> tuple[Bubblewrap | None, str]:
    """The local runtime's sandbox, and why processes must not start without one ("" if they may).

    Under "auto" a missing sandbox is logged once and processes run
    unsandboxed; under "bubblewrap" it is a reason to refuse them (the
    system check refuses to start the platform as well).
    """
    status = sandbox_status()
    if status.sandbox is None and settings.WORKSPACE_SANDBOX == "bubblewrap":
        return None, f"WORKSPACE_SANDBOX=bubblewrap, but bubblewrap cannot run here: {status.problem}"
    if status.sandbox is None and settings.WORKSPACE_SANDBOX == "auto":
        _warn_once(status.problem)
    return status.sandbox, ""


@functools.cache
def _warn_once(problem: str) -> None:
    logger.warning("workspace_sandbox_unavailable", problem=problem, consequence="workspace processes run unsandboxed")


@functools.cache
def _probe(sandbox: Bubblewrap) -> str:
    """Run ``true`` in a sandbox on an empty directory; "" if that works, else what went wrong."""
    with tempfile.TemporaryDirectory(prefix="devbench-sandbox-probe-") as workspace:
        try:
            completed = subprocess.run(
                sandbox.command(Path(workspace), ["/bin/sh", "-c", "exit 0"]),
                capture_output=True,
                text=True,
                env={"PATH": "/usr/bin:/bin"},
                timeout=PROBE_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not run: {error}"
    if completed.returncode != 0:
        output = " ".join((completed.stderr or completed.stdout).split())[:500]
        return f"a bubblewrap test run failed (exit code {completed.returncode}): {output}"
    return ""
