"""The warm runner through the runs API and the runner WebSocket, with real venvs.

The workspaces are provisioned for real, so with the default sandbox setting
the runner and the pip calls here run inside the sandbox.
"""

import os
import time
import zipfile
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from platform_core.asgi import application
from platform_core.models import AuditLog
from tests.conftest import make_ready
from workspaces.environment.testing import provision_workspace_venv, run_in_workspace
from workspaces.runtime import get_runtime
from workspaces.runtime.sandbox import sandbox_status


def build_wheel(directory: Path) -> Path:
    """A tiny pure-Python wheel, made by hand so no build tools or network are needed."""
    wheel = directory / "tinyrunnerpkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tinyrunnerpkg/__init__.py", "VALUE = 42\n")
        info = "tinyrunnerpkg-1.0.dist-info"
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tinyrunnerpkg\nVersion: 1.0\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: devbench-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def pip(workspace, *args: str) -> None:
    completed = run_in_workspace(workspace.pk, "pip", *args)
    assert completed.returncode == 0, completed.stderr


@pytest.fixture
def runner_workspace(personas):
    root = make_ready(personas.workspace)
    provision_workspace_venv(personas.workspace.pk)
    (root / "hello.py").write_text("import sys\nprint('hello', sys.argv[1:])\nprint('oops', file=sys.stderr)\n")
    yield personas.workspace
    from terminal.runner import get_runner_manager

    get_runner_manager().close_workspace(personas.workspace.pk).result(timeout=15)


def run(api, user, workspace, **body):
    return api.as_user(user).post(f"/api/v1/workspaces/{workspace.pk}/runs/", body, format="json")


@pytest.mark.django_db
class TestRunsApi:
    def test_it_runs_a_file_with_arguments_and_separates_the_streams(self, api, personas, runner_workspace):
        response = run(api, personas.editor, runner_workspace, path="hello.py", args=["a", "b"])

        assert response.status_code == 200, response.content
        body = response.json()
        assert body["exit_code"] == 0
        assert body["stdout"] == "hello ['a', 'b']\n"
        assert body["stderr"] == "oops\n"
        assert body["timed_out"] is False

    def test_it_reports_exit_codes_and_tracebacks(self, api, personas, runner_workspace):
        failed = run(api, personas.owner, runner_workspace, code="raise ValueError('bad value')").json()
        exited = run(api, personas.owner, runner_workspace, code="import sys; sys.exit(7)").json()

        assert failed["exit_code"] == 1
        assert "ValueError: bad value" in failed["stderr"]
        # The traceback reads as if the snippet ran directly: no runner or runpy frames.
        assert "devbench_runner" not in failed["stderr"]
        assert "runpy" not in failed["stderr"]
        assert 'File "<snippet>", line 1' in failed["stderr"]
        assert exited["exit_code"] == 7

    def test_it_stays_warm_between_runs(self, api, personas, runner_workspace):
        code = "import os; print(os.getppid())"
        first = run(api, personas.owner, runner_workspace, code=code).json()["stdout"]
        second = run(api, personas.owner, runner_workspace, code=code).json()["stdout"]

        assert first == second  # both runs were forked by the same warm runner

    def test_runs_see_only_their_workspace_as_an_unprivileged_user(self, api, personas, runner_workspace):
        status = sandbox_status()
        if status.sandbox is None:
            if os.environ.get("CI"):
                pytest.fail(f"no sandbox: {status.problem}")
            pytest.skip(f"no sandbox: {status.problem}")
        code = (
            "import os, sys\n"
            "print(os.getcwd(), os.getuid(), sys.prefix)\n"
            f"print(os.path.exists({str(django_settings.DATA_DIR)!r}))\n"
            "print(len([pid for pid in os.listdir('/proc') if pid.isdigit()]) < 10)\n"  # its own processes only
        )

        body = run(api, personas.owner, runner_workspace, code=code).json()

        assert body["stdout"].splitlines() == ["/workspace 1000 /workspace/.venv", "False", "True"], body

    def test_it_stops_a_run_at_its_timeout(self, api, personas, runner_workspace):
        started = time.monotonic()

        body = run(
            api, personas.owner, runner_workspace, code="import time\nwhile True: time.sleep(0.1)", timeout_seconds=1
        ).json()

        assert body["timed_out"] is True
        assert body["exit_code"] != 0
        assert time.monotonic() - started < 10

    # Transactional: the runner's own thread writes the audit rows and must see the workspace.
    @pytest.mark.django_db(transaction=True)
    def test_it_picks_up_packages_installed_and_removed_in_the_venv(self, api, personas, runner_workspace, tmp_path):
        root = get_runtime().root(runner_workspace.pk)
        probe = "import tinyrunnerpkg; print(tinyrunnerpkg.VALUE)"
        before = run(api, personas.owner, runner_workspace, code=probe).json()
        pip(runner_workspace, "install", f"./{build_wheel(root).name}")  # the workspace's processes see only it

        installed = run(api, personas.owner, runner_workspace, code=probe).json()
        pip(runner_workspace, "uninstall", "-y", "tinyrunnerpkg")
        removed = run(api, personas.owner, runner_workspace, code=probe).json()

        assert "ModuleNotFoundError" in before["stderr"]
        assert installed["stdout"] == "42\n", installed
        assert "ModuleNotFoundError" in removed["stderr"]
        restarts = AuditLog.objects.filter(action="runner.restart", workspace_id=runner_workspace.pk)
        assert restarts.count() == 2
        assert restarts.first().metadata == {"reason": "environment changed"}

    def test_it_says_environment_refresh_failed_with_the_interpreters_output(self, api, personas, runner_workspace):
        python = get_runtime().root(runner_workspace.pk) / ".venv" / "bin" / "python"
        python.unlink()
        python.write_text("#!/bin/sh\necho 'interpreter is broken' >&2\nexit 1\n")
        python.chmod(0o755)

        response = run(api, personas.owner, runner_workspace, code="print(1)")

        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "environment_refresh_failed"
        assert "interpreter is broken" in error["details"]["stderr"]

    def test_it_refuses_viewers_and_bad_requests(self, api, personas, runner_workspace):
        assert run(api, personas.viewer, runner_workspace, code="print(1)").status_code == 403
        assert run(api, personas.outsider, runner_workspace, code="print(1)").status_code == 404
        both = run(api, personas.owner, runner_workspace, code="1", path="hello.py")
        outside = run(api, personas.owner, runner_workspace, path="../etc/passwd")
        missing = run(api, personas.owner, runner_workspace, path="nope.py")
        # A missing file is a well-formed request about nothing: 404, like the files API.
        assert [both.status_code, outside.status_code, missing.status_code] == [400, 400, 404]


def session_cookie(client, user) -> bytes:
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}".encode()


async def open_runner(client, user, workspace):
    cookie = await sync_to_async(session_cookie)(client, user)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/workspaces/{workspace.pk}/runner/",
        headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"), (b"cookie", cookie)],
    )
    connected, _ = await communicator.connect()
    return communicator, connected


async def receive_until(communicator, kind, timeout=30):
    events = []
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        events.append(event)
        if event["type"] in (kind, "error"):
            return events


@pytest.mark.django_db(transaction=True)
async def test_it_streams_a_run_over_the_websocket(client, personas, runner_workspace):
    communicator, connected = await open_runner(client, personas.editor, runner_workspace)
    assert connected

    await communicator.send_json_to({"type": "run", "path": "hello.py"})
    events = await receive_until(communicator, "finished")
    await communicator.disconnect()

    assert [event["type"] for event in events][0] == "started"
    output = {(event["stream"], event["data"]) for event in events if event["type"] == "output"}
    assert ("stdout", "hello []\n") in output
    assert ("stderr", "oops\n") in output
    assert events[-1]["exit_code"] == 0


@pytest.mark.django_db(transaction=True)
async def test_it_stops_a_run_on_request(client, personas, runner_workspace):
    communicator, _ = await open_runner(client, personas.editor, runner_workspace)
    await communicator.send_json_to({"type": "run", "code": "print('looping', flush=True)\nwhile True: pass"})
    await receive_until(communicator, "output")

    started = time.monotonic()
    await communicator.send_json_to({"type": "stop"})
    events = await receive_until(communicator, "finished")
    await communicator.disconnect()

    # SIGINT reaches the program as KeyboardInterrupt, well before the SIGKILL fallback.
    assert events[-1]["type"] == "finished"
    assert events[-1]["exit_code"] == 1
    assert any("KeyboardInterrupt" in event.get("data", "") for event in events)
    assert time.monotonic() - started < 1.5


@pytest.mark.django_db(transaction=True)
async def test_it_refuses_viewers_before_accepting(client, personas, runner_workspace):
    communicator, connected = await open_runner(client, personas.viewer, runner_workspace)

    assert not connected
    await communicator.disconnect()
