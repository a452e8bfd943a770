"""Test helpers for the environment hooks: workspace venvs, a hand-made wheel, a pip environment.

Kept with the app (as NetBox keeps ``utilities/testing``) so every test module
builds the same fixtures; nothing here reaches the network.
"""

import base64
import hashlib
import os
import posixpath
import subprocess
import sys
import zipfile
from pathlib import Path

from workspaces.environment.installer import install_hooks

VENV_TIMEOUT_SECONDS = 120


def build_wheel(directory: Path, name: str = "tinypkg", version: str = "1.0", value: int = 42) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` by hand: no build backend, no network."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {value}\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: devbench-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record_lines = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record_lines) + "\n"
    wheel = Path(directory) / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def create_workspace_venv(root: Path, *, hooks: bool = True) -> Path:
    """A real workspace venv at ``<root>/.venv``, created as provisioning does, with the hooks installed."""
    root.mkdir(parents=True, exist_ok=True)
    venv = root / ".venv"
    subprocess.run(  # noqa: S603 - argv list, no shell
        [sys.executable, "-m", "virtualenv", "--no-periodic-update", "-q", str(venv)],
        check=True,
        timeout=VENV_TIMEOUT_SECONDS,
        env=pip_environment(),
    )
    if hooks:
        install_hooks(root, venv)
    return venv


def provision_workspace_venv(workspace_id: int) -> Path:
    """The workspace's .venv, made by real provisioning: through its runtime, inside its sandbox if any.

    A venv records the paths its processes see, so one made on the host
    (``create_workspace_venv``) would not work in a sandboxed terminal.
    """
    from workspaces.runtime import get_runtime

    runtime = get_runtime()
    runtime.provision(workspace_id, lambda percent, message: None)
    return runtime.root(workspace_id) / ".venv"


def run_in_workspace(workspace_id: int, *argv: str, **extra: str) -> subprocess.CompletedProcess:
    """Run ``argv`` in the workspace as its processes run (the venv first on PATH, pip offline), as text."""
    from workspaces.runtime import get_runtime
    from workspaces.runtime.base import SYSTEM_PATH

    runtime = get_runtime()
    process_root = runtime.process_root(workspace_id)
    environment = {
        "PATH": f"{posixpath.join(process_root, '.venv', 'bin')}:{SYSTEM_PATH}",
        "LANG": "C.UTF-8",
        "HOME": posixpath.join(process_root, ".devbench", "home"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
        **extra,
    }
    completed = runtime.run(workspace_id, list(argv), env=environment, timeout=VENV_TIMEOUT_SECONDS)
    return subprocess.CompletedProcess(
        completed.args, completed.returncode, completed.stdout.decode(), completed.stderr.decode()
    )


def pip_environment(**extra: str) -> dict[str, str]:
    """The platform's environment without its PIP_* and Python path settings, and pip kept offline."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "DEVBENCH_ENV_HOOK_")) and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    # PIP_CONFIG_FILE: the machine's pip.conf (find-links, index URLs) stays out too.
    environment.update(
        PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull
    )
    environment.update(extra)
    return environment
