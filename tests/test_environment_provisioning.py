"""Provisioning a local workspace installs the environment hooks, and re-provisioning repairs them.

In the sandbox a venv must name /workspace, not the host directory: provisioning makes it so,
and moves venvs made before (or without) the sandbox, keeping their packages.
"""

import json
import os
import subprocess

import pytest

from workspaces.environment.testing import build_wheel, pip_environment
from workspaces.runtime import LocalRuntime
from workspaces.runtime.sandbox import sandbox_status


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


@pytest.fixture
def sandbox():
    status = sandbox_status()
    if status.sandbox is None:
        if os.environ.get("CI"):
            pytest.fail(f"no sandbox: {status.problem}")
        pytest.skip(f"no sandbox: {status.problem}")
    return status.sandbox


def run_inside(runtime, workspace_id: int, command: str) -> subprocess.CompletedProcess:
    process_root = runtime.process_root(workspace_id)
    env = pip_environment() | {"PATH": f"{process_root}/.venv/bin:/usr/bin:/bin", "HOME": "/tmp"}
    completed = runtime.run(workspace_id, ["sh", "-c", command], env=env, timeout=120)
    return subprocess.CompletedProcess(completed.args, completed.returncode, completed.stdout.decode(), "")


def test_a_sandboxed_workspace_venv_says_workspace_everywhere(tmp_path, sandbox):
    runtime = LocalRuntime(tmp_path / "workspaces", sandbox=sandbox)

    runtime.provision(4, lambda percent, message: None)

    venv = runtime.root(4) / ".venv"
    for script in ("pip", "devbench-env"):
        assert (venv / "bin" / script).read_text().splitlines()[0] == "#!/workspace/.venv/bin/python"
    assert "VIRTUAL_ENV=/workspace/.venv" in (venv / "bin" / "activate").read_text()
    status = run_inside(runtime, 4, "devbench-env status")
    assert "venv:           /workspace/.venv" in status.stdout and "pip hook:       active" in status.stdout


def test_provisioning_moves_a_venv_made_with_host_paths_into_the_sandbox_and_back(tmp_path, sandbox):
    plain = LocalRuntime(tmp_path / "workspaces")
    sandboxed = LocalRuntime(tmp_path / "workspaces", sandbox=sandbox)
    plain.provision(5, lambda percent, message: None)
    root = plain.root(5)
    wheel = build_wheel(root)
    installed = subprocess.run(
        [str(root / ".venv" / "bin" / "pip"), "install", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        env=pip_environment(),
        timeout=120,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    # A console script of an installed package, and an editable install of the workspace's own code.
    hello = root / ".venv" / "bin" / "hello"
    hello.write_text(f"#!{root}/.venv/bin/python\nprint('hello from a console script')\n")
    hello.chmod(0o755)
    site_packages = next((root / ".venv" / "lib").glob("python*/site-packages"))
    (site_packages / "workspace_code.pth").write_text(f"{root}/src\n")
    (root / "src").mkdir()
    (root / "src" / "mine.py").write_text("WHERE = __file__\n")
    steps: list[str] = []

    sandboxed.provision(5, lambda percent, message: steps.append(message))
    inside = run_inside(
        sandboxed, 5, "hello && cd /tmp && python -c 'import tinypkg, mine; print(tinypkg.VALUE, mine.WHERE)'"
    )
    plain.provision(5, lambda percent, message: None)
    outside = subprocess.run([str(hello)], capture_output=True, text=True, check=False)

    assert "Moving the virtual environment to the paths its processes see now (packages are kept)" in steps
    assert inside.returncode == 0, inside
    assert inside.stdout.splitlines() == ["hello from a console script", "42 /workspace/src/mine.py"]
    assert outside.stdout == "hello from a console script\n"  # moved back for the unsandboxed runtime
    assert (site_packages / "workspace_code.pth").read_text() == f"{root}/src\n"
