"""Installs the environment hooks into a workspace's virtualenv.

What lands where (see docs/environment.md):
- ``<site-packages>/devbench_env_hook.py`` and ``devbench_env_hook.pth``: the pip hook;
- ``<venv>/bin/devbench-env``: the CLI, run by the venv's Python;
- ``<workspace>/.devbench/env_meta.json``: the first package snapshot;
- ``<workspace>/.pip-logs/``: where the hook writes one log per pip call.

The sources are the real files in ``venv_files/``. Installing is idempotent:
files are only rewritten when their content differs, and env_meta.json only
when the packages or the Python version differ, so re-provisioning repairs and
upgrades the hooks without announcing a change that did not happen.
"""

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENV_FILES = Path(__file__).resolve().parent / "venv_files"
HOOK_MODULE = "devbench_env_hook.py"
HOOK_PTH = "devbench_env_hook.pth"
CLI_SOURCE = "devbench_env_cli.py"
CLI_NAME = "devbench-env"
STATE_DIR = ".devbench"
META_FILE = "env_meta.json"
RESTART_REQUEST_FILE = "runner-restart-requested"
LOGS_DIR = ".pip-logs"

PYTHON_TIMEOUT_SECONDS = 60
# Linux refuses longer shebang lines (and none may contain a space).
SHEBANG_MAX_LENGTH = 127
_PURELIB_QUERY = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


class EnvironmentHookError(RuntimeError):
    pass


@dataclass(frozen=True)
class HookInstallation:
    site_packages: Path
    cli: Path
    env_meta: Path


def install_hooks(workspace_root: Path, venv: Path) -> HookInstallation:
    """Put the pip hook and the CLI into ``venv`` and record its packages. Idempotent."""
    workspace_root = Path(workspace_root)
    venv = Path(venv)
    python = venv / "bin" / "python"
    if not python.exists():
        raise EnvironmentHookError(f"The virtual environment has no Python ({venv.name}/bin/python).")

    site_packages = Path(_run_python(python, "-c", _PURELIB_QUERY).strip())
    # A venv whose interpreter lost its pyvenv.cfg answers the system's
    # site-packages; the hook must never land there.
    if not site_packages.resolve().is_relative_to(venv.resolve()):
        raise EnvironmentHookError(f"The virtual environment's site-packages lies outside {venv.name}.")
    site_packages.mkdir(parents=True, exist_ok=True)

    _write_if_changed(site_packages / HOOK_MODULE, (VENV_FILES / HOOK_MODULE).read_bytes())
    _write_if_changed(site_packages / HOOK_PTH, (VENV_FILES / HOOK_PTH).read_bytes())
    cli = venv / "bin" / CLI_NAME
    cli_text = _script_header(python) + (VENV_FILES / CLI_SOURCE).read_text(encoding="utf-8")
    _write_if_changed(cli, cli_text.encode("utf-8"), mode=0o755)

    (workspace_root / STATE_DIR).mkdir(exist_ok=True)
    (workspace_root / LOGS_DIR).mkdir(exist_ok=True)
    # The venv's own Python takes the snapshot: it knows its version and its
    # packages, and runs the very code that pip calls will run later.
    _run_python(python, str(cli), "refresh", "--quiet")
    return HookInstallation(site_packages=site_packages, cli=cli, env_meta=workspace_root / STATE_DIR / META_FILE)


def _run_python(python: Path, *arguments: str) -> str:
    # -I: the platform's PYTHONPATH and friends must not leak into the
    # workspace's interpreter (site-packages .pth files are still processed).
    argv = [str(python), "-I", *arguments]
    try:
        completed = subprocess.run(  # noqa: S603 - argv list, no shell
            argv, capture_output=True, text=True, timeout=PYTHON_TIMEOUT_SECONDS, check=False
        )
    except OSError as error:
        raise EnvironmentHookError(f"Could not run the virtual environment's Python: {error}") from error
    except subprocess.TimeoutExpired as error:
        raise EnvironmentHookError(
            f"The virtual environment's Python did not answer within {PYTHON_TIMEOUT_SECONDS}s."
        ) from error
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()[-1500:]
        raise EnvironmentHookError(f"Installing the environment hooks failed: {output}")
    return completed.stdout


def _script_header(python: Path) -> str:
    interpreter = str(python.absolute())
    if " " not in interpreter and len(interpreter) + 2 <= SHEBANG_MAX_LENGTH:
        return f"#!{interpreter}\n"
    # The shell re-executes the file with the venv's Python; to Python the
    # second line is just a string expression (distlib's launcher trick).
    quoted = interpreter.replace("'", "'\"'\"'")
    return f"#!/bin/sh\n'''exec' '{quoted}' \"$0\" \"$@\"\n' '''\n"


def _write_if_changed(path: Path, content: bytes, mode: int = 0o644) -> bool:
    try:
        if path.read_bytes() == content:
            if path.stat().st_mode & 0o777 != mode:
                path.chmod(mode)
            return False
    except FileNotFoundError:
        pass
    # Atomic: an interpreter starting meanwhile reads the old file or the new
    # one, never half of one.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
