"""Installs the environment hooks into a workspace's virtualenv.

What lands where (see docs/environment.md):
- ``<site-packages>/devbench_env_hook.py`` and ``devbench_env_hook.pth``: the pip hook;
- ``<venv>/bin/devbench-env``: the CLI, run by the venv's Python;
- ``<workspace>/.devbench/env_meta.json``: the first package snapshot;
- ``<workspace>/.pip-logs/``: where the hook writes one log per pip call.

The sources are the real files in ``venv_files/``. The venv's own Python
installs them (``venv_files/devbench_env_install.py``), run in the workspace
through the runtime: so the CLI's first line names the venv as the
workspace's processes see it (``/workspace/.venv`` in a sandbox), and the
platform never writes into the venv itself. Installing is idempotent: files
are only rewritten when their content differs, and env_meta.json only when the
packages or the Python version differ, so re-provisioning repairs and upgrades
the hooks without announcing a change that did not happen.
"""

import json
import posixpath
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VENV_FILES = Path(__file__).resolve().parent / "venv_files"
HOOK_MODULE = "devbench_env_hook.py"
HOOK_PTH = "devbench_env_hook.pth"
CLI_SOURCE = "devbench_env_cli.py"
INSTALL_PROGRAM = "devbench_env_install.py"
CLI_NAME = "devbench-env"
STATE_DIR = ".devbench"
META_FILE = "env_meta.json"
RESTART_REQUEST_FILE = "runner-restart-requested"
LOGS_DIR = ".pip-logs"

PYTHON_TIMEOUT_SECONDS = 60

# Runs argv (paths as the workspace's processes see them) in the workspace with
# the given stdin; the runtime's ``run`` in provisioning.
CommandRunner = Callable[[list[str], bytes], subprocess.CompletedProcess]


class EnvironmentHookError(RuntimeError):
    pass


@dataclass(frozen=True)
class HookInstallation:
    site_packages: Path
    cli: Path
    env_meta: Path


def install_hooks(
    workspace_root: Path, venv: Path, *, run: CommandRunner | None = None, process_root: str | None = None
) -> HookInstallation:
    """Put the pip hook and the CLI into ``venv`` and record its packages. Idempotent.

    ``run`` and ``process_root`` say how to run a command in the workspace and
    where its processes see ``workspace_root``; without them the venv's Python
    runs here, on the host paths (tests, and venvs outside any runtime).
    Returns host paths.
    """
    workspace_root = Path(workspace_root)
    venv = Path(venv)
    if not (venv / "bin" / "python").exists():
        raise EnvironmentHookError(f"The virtual environment has no Python ({venv.name}/bin/python).")
    process_root = process_root or str(workspace_root)
    run = run or _run_here
    process_venv = posixpath.join(process_root, venv.relative_to(workspace_root).as_posix())
    files = {
        "hook_module": (VENV_FILES / HOOK_MODULE).read_text(encoding="utf-8"),
        "hook_pth": (VENV_FILES / HOOK_PTH).read_text(encoding="utf-8"),
        "cli": (VENV_FILES / CLI_SOURCE).read_text(encoding="utf-8"),
    }
    # -I: the platform's PYTHONPATH and friends must not leak into the
    # workspace's interpreter (site-packages .pth files are still processed).
    argv = [posixpath.join(process_venv, "bin", "python"), "-I", "-c", (VENV_FILES / INSTALL_PROGRAM).read_text()]
    try:
        completed = run(argv, json.dumps(files).encode())
    except OSError as error:
        raise EnvironmentHookError(f"Could not run the virtual environment's Python: {error}") from error
    if completed.returncode != 0:
        output = _text(completed.stderr or completed.stdout).strip()[-1500:]
        raise EnvironmentHookError(f"Installing the environment hooks failed: {output}")
    try:
        answer = json.loads(_text(completed.stdout).strip().splitlines()[-1])
        site_packages = _host_path(workspace_root, process_root, answer["site_packages"])
        cli = _host_path(workspace_root, process_root, answer["cli"])
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise EnvironmentHookError(f"The hook installer gave an unexpected answer: {error}") from error
    return HookInstallation(site_packages=site_packages, cli=cli, env_meta=workspace_root / STATE_DIR / META_FILE)


def _run_here(argv: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(  # noqa: S603 - argv list, no shell
            argv, input=stdin, capture_output=True, timeout=PYTHON_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise EnvironmentHookError(
            f"The virtual environment's Python did not answer within {PYTHON_TIMEOUT_SECONDS}s."
        ) from error


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""


def _host_path(workspace_root: Path, process_root: str, path: str) -> Path:
    relative = posixpath.relpath(posixpath.normpath(path), process_root)
    if relative.startswith(".."):
        raise ValueError(f"{path} is outside the workspace")
    return workspace_root / relative
