"""`manage.py serve` keeps DEBUG pages on this machine: real `serve` processes, real requests.

Requests go to loopback only: a server bound to 127.0.0.1 is out of other machines' reach by the
kernel's own rules, so what is tested here is that `serve` never binds anything wider under DEBUG
unless told to.
"""

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from platform_core.management.commands.serve import check_debug_bind, is_loopback
from tests import processes
from tests.conftest import wait_until

NO_SUCH_PAGE = "/no-such-page/"


def serve_argv(host: str, port: int) -> list[str]:
    return [sys.executable, "manage.py", "serve", "--host", host, "--port", str(port), "--no-worker"]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own test server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def start_serve(host: str, port: int, env: dict[str, str], log_dir) -> processes.ChildProcess:
    server = processes.ChildProcess(serve_argv(host, port), env, log_dir / f"serve-{port}.log")

    def healthy() -> bool:
        if server.process.poll() is not None:
            raise AssertionError("serve exited:\n" + server.output())
        try:
            return get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        except OSError:
            return False

    # Polling the port: daphne logs nothing at the level the settings give it.
    wait_until(healthy, timeout=60, message="serve to answer /healthz")
    return server


@pytest.fixture
def debug_env(django_db_setup) -> dict[str, str]:
    env = processes.environment_for_test_database() | {"DEBUG": "1", "LOG_LEVEL": "INFO"}
    env.pop("ALLOW_DEBUG_ON_NETWORK", None)
    return env


def test_it_refuses_to_serve_debug_beyond_loopback(debug_env):
    port = processes.free_port()

    serve = subprocess.Popen(
        serve_argv("0.0.0.0", port),  # noqa: S104 - binding everywhere is what is being refused
        cwd=processes.ROOT,
        env=debug_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so that a daphne it should not have started dies with it
    )
    try:
        _, stderr = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()

    assert serve.returncode != 0
    assert "DEBUG is on, so serving on 0.0.0.0 would show tracebacks" in stderr
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # nothing was left listening


def test_a_debug_server_shows_its_pages_on_loopback(debug_env, process_logs):
    port = processes.free_port()
    server = start_serve("127.0.0.1", port, debug_env, process_logs)
    try:
        status, page = get(f"http://127.0.0.1:{port}{NO_SUCH_PAGE}")
        assert status == 404
        assert "DEBUG = True" in page  # the technical page, here where it belongs
    finally:
        server.stop()


def test_it_serves_debug_to_the_network_only_when_told_to(debug_env, process_logs):
    port = processes.free_port()
    env = debug_env | {"ALLOW_DEBUG_ON_NETWORK": "1"}
    server = start_serve("0.0.0.0", port, env, process_logs)  # noqa: S104 - explicitly allowed here
    try:
        status, _ = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
        assert "Warning: DEBUG is on and 0.0.0.0 is reachable from other machines" in server.output()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),  # noqa: S104
        ("::", False),
        ("192.0.2.2", False),
        ("no-such-host.invalid", False),
    ],
)
def test_it_knows_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_production_settings_may_serve_the_network(settings):
    settings.DEBUG = False
    settings.ALLOW_DEBUG_ON_NETWORK = False

    check_debug_bind("0.0.0.0", warn=pytest.fail)  # noqa: S104
