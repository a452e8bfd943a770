"""The pip hook and the devbench-env CLI, in a real workspace venv with real pip (offline)."""

import ast
import importlib.util
import json
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from workspaces.environment.installer import VENV_FILES, install_hooks
from workspaces.environment.testing import build_wheel, create_workspace_venv, pip_environment

PIP_TIMEOUT_SECONDS = 120


@dataclass
class Workspace:
    root: Path
    venv: Path
    wheel: Path

    @property
    def logs(self) -> Path:
        return self.root / ".pip-logs"

    @property
    def meta_file(self) -> Path:
        return self.root / ".devbench" / "env_meta.json"

    def meta(self) -> dict:
        return json.loads(self.meta_file.read_text())

    def updated_at(self) -> datetime:
        return datetime.fromisoformat(self.meta()["updated_at"])

    def log_names(self) -> set[str]:
        return {path.name for path in self.logs.glob("*.json")}

    def run(self, program: str, *arguments: str, **extra_environment: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.venv / "bin" / program), *arguments],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_SECONDS,
            env=pip_environment(**extra_environment),
            cwd=self.root,
            check=False,
        )

    def run_logged(self, program: str, *arguments: str, **extra_environment: str):
        """Run a command that must write exactly one new log; return (process, log record)."""
        before = self.log_names()
        completed = self.run(program, *arguments, **extra_environment)
        new = self.log_names() - before
        assert len(new) == 1, (new, completed.stderr)
        return completed, json.loads((self.logs / new.pop()).read_text())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    base = tmp_path_factory.mktemp("environment-hooks")
    root = base / "ws-1"
    venv = create_workspace_venv(root)
    return Workspace(root=root, venv=venv, wheel=build_wheel(base))


def test_it_notices_pip_pip3_and_python_m_pip(workspace):
    wheel = str(workspace.wheel)
    initial = workspace.updated_at()
    assert "tinypkg" not in workspace.meta()["packages"]

    installed, log = workspace.run_logged("pip", "install", "--no-index", wheel)
    assert installed.returncode == 0, installed.stderr
    after_install = workspace.updated_at()
    assert after_install > initial
    assert workspace.meta()["packages"]["tinypkg"] == "1.0"
    assert log["command"] == ["pip", "install", "--no-index", wheel]
    assert log["exit_code"] == 0
    assert "Successfully installed tinypkg-1.0" in log["stdout"]
    assert log["packages_changed"] is True
    assert log["duration_seconds"] > 0
    assert datetime.fromisoformat(log["started_at"]) <= after_install
    assert workspace.run("python", "-c", "import tinypkg; print(tinypkg.VALUE)").stdout.strip() == "42"

    uninstalled, log = workspace.run_logged("pip3", "uninstall", "-y", "tinypkg")
    assert uninstalled.returncode == 0, uninstalled.stderr
    after_uninstall = workspace.updated_at()
    assert after_uninstall > after_install
    assert "tinypkg" not in workspace.meta()["packages"]
    assert log["command"] == ["pip3", "uninstall", "-y", "tinypkg"]
    assert log["exit_code"] == 0
    assert "Successfully uninstalled tinypkg-1.0" in log["stdout"]

    reinstalled, log = workspace.run_logged("python", "-m", "pip", "install", "--no-index", wheel)
    assert reinstalled.returncode == 0, reinstalled.stderr
    assert workspace.updated_at() > after_uninstall
    assert workspace.meta()["packages"]["tinypkg"] == "1.0"
    assert workspace.meta()["command"] == ["python", "-m", "pip", "install", "--no-index", wheel]
    assert log["command"] == ["python", "-m", "pip", "install", "--no-index", wheel]
    assert log["exit_code"] == 0
    assert "Successfully installed tinypkg-1.0" in log["stdout"]


def test_it_logs_a_failing_call_and_keeps_pips_exit_code(workspace):
    before = workspace.meta()

    failed, log = workspace.run_logged("pip", "install", "--no-index", "doesnotexist")
    without_hook = workspace.run("pip", "install", "--no-index", "doesnotexist", DEVBENCH_ENV_HOOK_DISABLE="1")

    assert failed.returncode != 0
    assert failed.returncode == without_hook.returncode
    assert log["exit_code"] == failed.returncode
    assert "No matching distribution found for doesnotexist" in log["stderr"]
    assert log["stderr"] in failed.stderr  # teed: the user still saw everything
    assert log["packages_changed"] is False
    assert workspace.meta() == before


def test_it_logs_calls_that_change_nothing_without_announcing_a_change(workspace):
    before = workspace.meta()

    version, version_log = workspace.run_logged("pip", "--version")
    listing, list_log = workspace.run_logged("pip", "list")

    assert version.returncode == 0 and listing.returncode == 0
    assert version_log["exit_code"] == 0 and version_log["stdout"].startswith("pip ")
    assert list_log["command"] == ["pip", "list"]
    assert "setuptools" in list_log["stdout"] or "pip" in list_log["stdout"]
    assert workspace.meta() == before


def test_it_is_inert_for_everything_but_pip(workspace):
    before = workspace.log_names()

    probe = workspace.run(
        "python",
        "-c",
        "import json, sys, pip; "
        "print('pip._internal.cli.main' in sys.modules, "
        "any(getattr(f, 'devbench_env_hook', False) for f in sys.meta_path))",
    )

    assert probe.stdout.split() == ["False", "True"], probe.stderr
    assert probe.stderr == ""
    assert workspace.log_names() == before


def test_it_prunes_logs_by_count_and_by_age(workspace):
    for path in workspace.logs.glob("*.json"):
        path.unlink()
    month_ago = time.time() - 31 * 86400
    fakes = [f"2020{1 + index // 28:02d}{1 + index % 28:02d}T000000.000000Z-1.json" for index in range(60)]
    for name in fakes:
        (workspace.logs / name).write_text("{}")
    # The newest fake log by name, but written a month ago: age prunes it, not count.
    stale = workspace.logs / fakes[-1]
    os.utime(stale, (month_ago, month_ago))
    tmp_leftover = workspace.logs / ".20200101T000000.json.abc.tmp"
    tmp_leftover.write_text("{")
    os.utime(tmp_leftover, (month_ago, month_ago))

    _completed, log = workspace.run_logged("pip", "--version")

    names = sorted(workspace.log_names())
    assert len(names) == 50
    assert stale.name not in names
    assert not tmp_leftover.exists()
    assert log["command"] == ["pip", "--version"]
    # The newest survive: the real call and the 49 most recent fakes still in their age.
    assert names[0] == fakes[10]
    assert not names[-1].startswith("2020")


def test_it_never_breaks_pip_when_recording_fails(workspace):
    logs = workspace.logs
    logs.rename(logs.with_name("logs-aside"))
    logs.write_text("a file where the log directory should be")
    try:
        completed = workspace.run("pip", "--version")
    finally:
        logs.unlink()
        logs.with_name("logs-aside").rename(logs)

    assert completed.returncode == 0
    assert completed.stdout.startswith("pip ")
    complaints = completed.stderr.splitlines()
    assert len(complaints) == 1, completed.stderr
    assert complaints[0].startswith("devbench: environment hook failed (pip itself is unaffected):")


def test_it_ignores_the_pip_processes_pip_starts_itself(workspace):
    before = workspace.log_names()

    completed = workspace.run("pip", "--version", DEVBENCH_ENV_HOOK_ACTIVE="1")

    assert completed.returncode == 0
    assert workspace.log_names() == before


def test_it_hides_credentials_in_logged_commands(workspace):
    _completed, log = workspace.run_logged(
        "pip", "list", "--no-index", "--index-url", "https://alice:s3cret@packages.example.invalid/simple"
    )

    assert "s3cret" not in json.dumps(log["command"])
    assert "https://****@packages.example.invalid/simple" in log["command"]


def test_the_cli_lists_shows_and_reports(workspace):
    workspace.run_logged("pip", "install", "--no-index", "doesnotexist")
    _completed, latest = workspace.run_logged("pip", "--version")

    logs = workspace.run("devbench-env", "logs")
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert "command" in lines[0]
    assert lines[1].split()[0] == "1" and lines[1].rstrip().endswith("pip --version")
    assert "pip install --no-index doesnotexist" in lines[2] and lines[2].split()[3] == "1"

    shown = workspace.run("devbench-env", "show", "2")
    assert shown.returncode == 0, shown.stderr
    assert "command:   pip install --no-index doesnotexist" in shown.stdout
    assert "exit code: 1" in shown.stdout
    assert "No matching distribution found for doesnotexist" in shown.stdout

    by_name = workspace.run("devbench-env", "show", sorted(workspace.log_names())[-1])
    assert by_name.returncode == 0 and latest["stdout"] in by_name.stdout

    missing = workspace.run("devbench-env", "show", "999")
    assert missing.returncode == 1 and "no pip call #999" in missing.stdout

    status = workspace.run("devbench-env", "status")
    assert status.returncode == 0, status.stderr
    assert f"venv:           {workspace.venv}" in status.stdout
    assert f"packages:       {len(workspace.meta()['packages'])} installed" in status.stdout
    assert "last change:" in status.stdout and "pip hook:       active" in status.stdout


def test_the_cli_asks_for_a_runner_restart(workspace):
    request = workspace.root / ".devbench" / "runner-restart-requested"

    completed = workspace.run("devbench-env", "restart-runner")

    assert completed.returncode == 0, completed.stderr
    assert "restart" in completed.stdout
    requested_at = datetime.fromisoformat(json.loads(request.read_text())["requested_at"])
    assert abs((datetime.now(requested_at.tzinfo) - requested_at).total_seconds()) < 60


def test_installing_again_repairs_the_hooks_and_announces_nothing(workspace):
    site_packages = next((workspace.venv / "lib").glob("python*/site-packages"))
    hook = site_packages / "devbench_env_hook.py"
    hook.write_text("raise RuntimeError('tampered')\n")
    (workspace.venv / "bin" / "devbench-env").unlink()
    before = workspace.meta()

    installation = install_hooks(workspace.root, workspace.venv)

    assert installation.site_packages == site_packages
    assert hook.read_bytes() == (VENV_FILES / "devbench_env_hook.py").read_bytes()
    assert os.access(installation.cli, os.X_OK)
    assert workspace.meta() == before
    workspace.run_logged("pip", "--version")


@pytest.mark.parametrize("name", ["devbench_env_hook.py", "devbench_env_cli.py"])
def test_the_venv_files_are_valid_python_3_8(name):
    # They run in the workspace's interpreter, which may be older than the platform's.
    ast.parse((VENV_FILES / name).read_text(), feature_version=(3, 8))


def test_captured_output_keeps_its_beginning_and_end(monkeypatch):
    monkeypatch.setenv("DEVBENCH_ENV_HOOK_DISABLE", "1")  # load the module without hooking this process
    spec = importlib.util.spec_from_file_location("hook_under_test", VENV_FILES / "devbench_env_hook.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)

    capture = hook.CappedText(limit=20)
    for chunk in ["0123456789", "abcdefghij", "KLMNOPQRST", "uvwxyz"]:
        capture.add(chunk)

    assert capture.truncated
    assert capture.text() == "0123456789\n[devbench: 16 characters omitted]\nQRSTuvwxyz"
    small = hook.CappedText(limit=20)
    small.add("short")
    assert small.text() == "short" and not small.truncated
    assert hook.exit_status(None) == 0 and hook.exit_status(3) == 3 and hook.exit_status("boom") == 1
