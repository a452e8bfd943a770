"""Provisioning a local workspace installs the environment hooks, and re-provisioning repairs them."""

import json
import os
import subprocess

from workspaces.environment.testing import build_wheel, pip_environment
from workspaces.runtime import LocalRuntime


def test_it_installs_the_hooks_while_provisioning_and_repairs_them_later(tmp_path):
    runtime = LocalRuntime(tmp_path / "workspaces")
    steps: list[str] = []

    runtime.provision(3, lambda percent, message: steps.append(message))

    root = runtime.root(3)
    venv = root / ".venv"
    assert "Installing environment hooks" in steps
    assert steps.index("Installing environment hooks") < steps.index("Workspace files ready")
    site_packages = next((venv / "lib").glob("python*/site-packages"))
    assert (site_packages / "devbench_env_hook.pth").read_text() == "import devbench_env_hook\n"
    assert (site_packages / "devbench_env_hook.py").exists()
    assert os.access(venv / "bin" / "devbench-env", os.X_OK)
    meta = json.loads((root / ".devbench" / "env_meta.json").read_text())
    assert "pip" in meta["packages"] and meta["venv"] == ".venv"
    assert (root / "main.py").exists()

    wheel = build_wheel(tmp_path)
    completed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        env=pip_environment(),
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    (log,) = (root / ".pip-logs").glob("*.json")
    assert json.loads(log.read_text())["command"] == ["pip", "install", "--no-index", str(wheel)]
    meta = json.loads((root / ".devbench" / "env_meta.json").read_text())
    assert meta["packages"]["tinypkg"] == "1.0"

    (site_packages / "devbench_env_hook.pth").unlink()
    runtime.provision(3, lambda percent, message: None)

    assert (site_packages / "devbench_env_hook.pth").exists()
    # Nothing changed in the packages, so nothing is announced.
    assert json.loads((root / ".devbench" / "env_meta.json").read_text()) == meta
