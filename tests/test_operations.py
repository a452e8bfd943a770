"""Health, metrics, logging, pages behind login, the API schema and production settings."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.test import Client
from structlog.stdlib import ProcessorFormatter

from tests.conftest import make_ready
from tests.processes import ROOT

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
