"""Health, metrics, logging, pages behind login, the API schema and production settings."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from structlog.stdlib import ProcessorFormatter

from tests.conftest import make_ready, wait_until
from tests.processes import ROOT, ChildProcess, environment_for_test_database, free_port

pytestmark = pytest.mark.django_db


def test_it_reports_health_without_authentication(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_serves_metrics_to_admins_and_the_metrics_token_only(personas, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    admin = Client()
    admin.force_login(personas.site_admin)
    member = Client()
    member.force_login(personas.owner)
    make_ready(personas.workspace)

    scraped = admin.get("/metrics")
    with_token = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")

    assert Client().get("/metrics").status_code == 401
    assert member.get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert with_token.status_code == 200
    text = scraped.content.decode()
    assert 'devbench_workspaces{status="ready"} 1.0' in text
    assert 'devbench_workspaces{status="pending"} 0.0' in text
    assert 'devbench_jobs_total{kind="workspace.provision",status="queued"} 1.0' in text
    assert "django_http_requests_total_by_method_total" in text


def test_it_returns_a_request_id_header_and_logs_json_with_it(client, personas, caplog):
    client.force_login(personas.owner)
    json_formatter = next(
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, ProcessorFormatter)
    )

    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/workspaces/", HTTP_USER_AGENT="log-check")

    request_id = response["X-Request-ID"]
    assert len(request_id) >= 32
    # Format the captured records with the configured handler's formatter: what operators read.
    lines = [json.loads(json_formatter.format(record)) for record in caplog.records]
    finished = [line for line in lines if line["event"] == "request_finished"]
    assert finished and finished[0]["request_id"] == request_id
    assert finished[0]["code"] == 200
    assert finished[0]["user_id"] == personas.owner.pk


@pytest.mark.parametrize(
    "path",
    ["/", "/tokens/", "/api/docs/", "/workspaces/1/", "/workspaces/1/members/", "/accounts/password/"],
)
def test_it_sends_anonymous_visitors_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_hides_other_peoples_workspace_pages(personas):
    outsider = Client()
    outsider.force_login(personas.outsider)

    assert outsider.get(f"/workspaces/{personas.workspace.pk}/").status_code == 404
    assert outsider.get(f"/workspaces/{personas.workspace.pk}/members/").status_code == 404


def test_it_renders_the_pages_for_members(personas):
    viewer = Client()
    viewer.force_login(personas.viewer)

    for path in [
        "/",
        "/tokens/",
        f"/workspaces/{personas.workspace.pk}/",
        f"/workspaces/{personas.workspace.pk}/members/",
    ]:
        assert viewer.get(path).status_code == 200, path
    assert b'data-can-edit="false"' in viewer.get(f"/workspaces/{personas.workspace.pk}/").content


def test_it_serves_the_openapi_schema_to_signed_in_users(personas):
    signed_in = Client()
    signed_in.force_login(personas.viewer)

    schema = signed_in.get("/api/v1/schema/?format=json")

    assert Client().get("/api/v1/schema/").status_code in (401, 403)
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/v1/workspaces/{id}/" in paths
    assert "/api/v1/workspaces/{workspace_pk}/files/content/" in paths


def test_it_passes_the_deployment_checks_with_production_settings(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "FAST_PASSWORD_HASHING")} | {
        "DEBUG": "0",
        "SECRET_KEY": "x7#k2!v9" * 8,
        "ALLOWED_HOSTS": "devbench.example.com",
        "DATA_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_it_refuses_to_start_without_a_secret_key_in_production(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY",)} | {
        "DEBUG": "0",
        "DATA_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_it_rejects_a_mistyped_boolean(tmp_path):
    env = os.environ | {"DEBUG": "ture", "DATA_DIR": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_production_refuses_to_run_workspaces_unsandboxed_unless_allowed(tmp_path):
    base = {key: value for key, value in os.environ.items() if key != "FAST_PASSWORD_HASHING"} | {
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x7#k2!v9" * 8,
        "WORKSPACE_SANDBOX": "off",
    }

    def check(**env):
        return subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=ROOT,
            env=base | env,
            capture_output=True,
            text=True,
            check=False,
        )

    refused = check(DEBUG="0")
    allowed = check(DEBUG="0", WORKSPACE_ALLOW_UNSANDBOXED="1")
    development = check(DEBUG="1")

    assert refused.returncode != 0
    assert "workspaces.E001" in refused.stderr and "WORKSPACE_ALLOW_UNSANDBOXED" in refused.stderr
    for warned in (allowed, development):
        assert warned.returncode == 0, warned.stderr
        assert "workspaces.W001" in warned.stdout + warned.stderr


def _descendants(pid: int) -> list[int]:
    """Pids of every process below ``pid`` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def test_serve_keeps_the_first_administrators_password_out_of_every_process(django_db_setup, process_logs):
    password = "first-admin-password-" + os.urandom(8).hex()
    env = environment_for_test_database() | {"DJANGO_SUPERUSER_PASSWORD": password, "LOG_LEVEL": "INFO"}
    serve = ChildProcess(
        [sys.executable, "manage.py", "serve", "--port", str(free_port()), "--worker-concurrency", "1"],
        env,
        process_logs / "serve.log",
    )
    try:
        serve.wait_for_line("Devbench is serving")
        serve.wait_for_line("ready", timeout=90)  # the Celery worker, once its pool process runs
        processes = [serve.process.pid, *wait_until(lambda: _descendants(serve.process.pid), message="children")]
        environments = {pid: Path(f"/proc/{pid}/environ").read_bytes() for pid in processes}
        commands = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().decode() for pid in processes)
    finally:
        serve.stop()

    assert "daphne" in commands and "celery" in commands
    assert len(environments) >= 4  # serve, daphne, the worker and its pool process
    for pid, environment in environments.items():
        assert password.encode() not in environment, pid
        assert b"DJANGO_SUPERUSER_PASSWORD" not in environment, pid
