"""The OpenAPI schema tells the truth: every answer an operation can give, the error
shape, which bodies refuse unknown fields, what paths and names are accepted; and
Schemathesis, run against the live server, finds nothing the schema does not say."""

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from platform_core import services as platform_services
from platform_core.models import AuditLog, User
from tests import processes
from tests.conftest import make_ready, make_user
from tests.processes import ROOT
from workspaces import files, services
from workspaces.api.schema import BELOW_ROOT_PATH_PATTERN, PATH_PATTERN
from workspaces.environment.testing import provision_workspace_venv
from workspaces.models import Membership

ERROR_REF = "#/components/schemas/Error"
BODY_METHODS = {"post", "put", "patch"}


def load_schema(api, user) -> dict:
    response = api.as_user(user).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, operation


def error_schema(operation: dict, status: int) -> str | None:
    response = operation["responses"].get(str(status))
    return response and response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")


@pytest.mark.django_db
def test_it_documents_the_error_answers_of_every_operation(api, personas):
    schema = load_schema(api, personas.owner)

    for method, path, operation in operations(schema):
        expected = {401, 403, 429}
        if method in BODY_METHODS or any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
            expected.add(400)
        if "requestBody" in operation:
            expected |= {413, 415}
        if "{" in path:
            expected.add(404)
        for status in expected:
            assert error_schema(operation, status) == ERROR_REF, (method, path, status)
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "details"}


@pytest.mark.django_db
def test_it_marks_every_request_body_as_refusing_unknown_fields(api, personas):
    schema = load_schema(api, personas.owner)
    components = schema["components"]["schemas"]

    def resolve(node: dict) -> list[dict]:
        if "$ref" in node:
            return resolve(components[node["$ref"].rsplit("/", 1)[1]])
        if "oneOf" in node:
            return [resolved for option in node["oneOf"] for resolved in resolve(option)]
        return [node]

    bodies = 0
    for method, path, operation in operations(schema):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            for body in resolve(content["schema"]):
                assert body.get("additionalProperties") is False, (method, path, media_type)
                bodies += 1
    assert bodies >= 11
    unknown = api.as_user(personas.owner).post("/api/v1/workspaces/", {"name": "x", "colour": 1}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"] == {"colour": ["Unknown field."]}


@hsettings(max_examples=300, deadline=None)
@given(
    path=st.from_regex(PATH_PATTERN, fullmatch=True), below_root=st.from_regex(BELOW_ROOT_PATH_PATTERN, fullmatch=True)
)
def test_it_describes_paths_exactly_as_the_files_layer_accepts_them(path, below_root):
    for candidate in (path, below_root):
        try:
            normalised = files.normalise(candidate)
        except files.FilesError as error:
            # Lengths in UTF-8 bytes are beyond a pattern; the schema's description states them.
            assert error.code in ("name_too_long", "path_too_long"), (candidate, error.message)
            continue
        if candidate is below_root:
            assert normalised, f"{below_root!r} names the root"


@pytest.mark.parametrize(
    "refused",
    ["/etc/passwd", "~/x", "c:/x", "a/../b", "..", "sub\\inner.txt", "main\x00.py", "new\nline.py", "a/\x7f"],
)
def test_it_describes_refused_paths_as_refused(refused):
    import re

    assert not re.fullmatch(PATH_PATTERN, refused)
    assert not re.fullmatch(BELOW_ROOT_PATH_PATTERN, refused)
    for root in ("", ".", "./", "./."):
        assert re.fullmatch(PATH_PATTERN, root)
        assert not re.fullmatch(BELOW_ROOT_PATH_PATTERN, root)


@pytest.mark.django_db
def test_it_answers_unknown_api_paths_with_the_error_shape(api, personas):
    client = api.as_user(personas.owner)

    for path in ("/api/v1/nothing-here/", "/api/v1/workspaces/not-a-number/", "/api/v1/workspaces/1/files/x/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_it_answers_well_formed_requests_the_state_refuses_with_404_or_409(api, personas):
    root = make_ready(personas.workspace)
    (root / "folder").mkdir()
    (root / "notes.txt").write_text("x")
    client = api.as_user(personas.owner)
    base = f"/api/v1/workspaces/{personas.workspace.pk}"
    owner = Membership.objects.get(workspace=personas.workspace, user=personas.owner)

    answers = {
        "read a folder": client.get(f"{base}/files/content/?path=folder"),
        "list a file": client.get(f"{base}/files/?path=notes.txt"),
        "download a folder": client.get(f"{base}/files/download/?path=folder"),
        "add a member twice": client.post(f"{base}/members/", {"username": "vera", "role": "viewer"}, format="json"),
        "demote the last owner": client.patch(f"{base}/members/{owner.pk}/", {"role": "viewer"}, format="json"),
        "run a missing file": client.post(f"{base}/runs/", {"path": "missing.py"}, format="json"),
    }

    codes = {name: (answer.status_code, answer.json()["error"]["code"]) for name, answer in answers.items()}
    assert codes == {
        "read a folder": (409, "not_a_file"),
        "list a file": (409, "not_a_directory"),
        "download a folder": (409, "not_a_file"),
        "add a member twice": (409, "already_member"),
        "demote the last owner": (409, "last_owner"),
        "run a missing file": (404, "not_found"),
    }


@pytest.mark.django_db
def test_it_accepts_requests_the_schema_allows(api, personas):
    make_ready(personas.workspace)
    client = api.as_user(personas.site_admin)
    base = f"/api/v1/workspaces/{personas.workspace.pk}"
    empty = SimpleUploadedFile("__init__.py", b"")

    uploaded = client.post(f"{base}/files/upload/", {"file": empty}, format="multipart")
    unknown_actor = client.get("/api/v1/audit/?actor=987654")
    beyond_64_bits = client.get(f"/api/v1/audit/?actor={2**70}")
    # Valid ISO 8601 instants that fall outside Python's years once turned to UTC.
    since_the_dawn = client.get("/api/v1/audit/?since=0001-01-01T00:00:00%2B01:00")
    since_the_end = client.get("/api/v1/audit/?since=9999-12-31T23:59:59-01:00")
    until_the_end = client.get("/api/v1/audit/?until=9999-12-31T23:59:59-01:00")
    until_the_dawn = client.get("/api/v1/audit/?until=0001-01-01T00:00:00%2B01:00")
    # ISO 8601 allows offsets Postgres does not (beyond ±15:59): compared in UTC, they work everywhere.
    far_offsets = [
        client.get("/api/v1/tokens/?revoked_at=2020-01-01T00:00:00-19:52"),
        client.get("/api/v1/audit/?since=2020-01-01T00:00:00%2B23:59"),
    ]

    assert uploaded.status_code == 201, uploaded.content
    assert (unknown_actor.status_code, unknown_actor.json()["count"]) == (200, 0)
    assert (beyond_64_bits.status_code, beyond_64_bits.json()["count"]) == (200, 0)
    everything = AuditLog.objects.count()
    assert everything > 0
    counts = [answer.json()["count"] for answer in (since_the_dawn, since_the_end, until_the_end, until_the_dawn)]
    assert counts == [everything, 0, everything, 0]
    assert [answer.status_code for answer in far_offsets] == [200, 200]


@pytest.mark.django_db
def test_it_takes_json_bodies_only_except_for_uploads(api, personas):
    response = api.as_user(personas.owner).post("/api/v1/workspaces/", {"name": "Form"}, format="multipart")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


# The Schemathesis run, configured in tests/schemathesis.toml (bounded examples per
# operation, fixed seed) with real objects from tests/schemathesis_hooks.py.
SCHEMATHESIS_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
]


@pytest.fixture
def unthrottled_server(monkeypatch, django_db_setup, process_logs):
    """The platform under daphne, as ``platform_server``, with throttling out of
    the way: thousands of requests in a minute would otherwise mostly meet 429."""
    monkeypatch.setenv("API_RATE_LIMIT", "1000000/hour")
    server, base_url = processes.start_server(process_logs)
    server.base_url = base_url
    yield server
    server.stop()


def ready_workspace(name: str, owner, *, with_venv: bool = False):
    workspace = services.do_create_workspace(name, acting_user=owner)
    root = make_ready(workspace)
    if with_venv:
        provision_workspace_venv(workspace.pk)
    (root / "README.md").write_text("# Fuzzed\n")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "data.bin").write_bytes(b"\x00\x01binary")
    return workspace


@pytest.mark.django_db(transaction=True)
def test_it_passes_schemathesis_against_the_live_server(personas, unthrottled_server, tmp_path):
    workspace = ready_workspace("Fuzzed files", personas.owner)
    runner_workspace = ready_workspace("Fuzzed runs", personas.owner, with_venv=True)
    fuzzer = make_user("fuzzer", User.SiteRole.ADMIN)  # an administrator reaches every endpoint, audit log included
    _, token = platform_services.do_create_api_token(fuzzer, "schemathesis", 1)
    services.do_add_member(workspace, personas.editor, Membership.Role.EDITOR, acting_user=personas.owner)
    editor_membership = Membership.objects.get(workspace=workspace, user=personas.editor)
    junit = tmp_path / "schemathesis.xml"
    env = os.environ.copy() | {
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "DEVBENCH_API": unthrottled_server.base_url,
        "DEVBENCH_TOKEN": token,
        "DEVBENCH_WORKSPACE_ID": str(workspace.pk),
        "DEVBENCH_RUNNER_WORKSPACE_ID": str(runner_workspace.pk),
        "DEVBENCH_MEMBERSHIP_ID": str(editor_membership.pk),
        "DEVBENCH_USERNAMES": ",".join(
            user.username for user in (personas.viewer, personas.outsider, personas.auditor)
        ),
    }

    started = time.monotonic()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(ROOT / "tests" / "schemathesis.toml")),
            *("run", f"{unthrottled_server.base_url}/api/v1/schema/"),
            *("--header", f"Authorization: Bearer {token}", "--checks", ",".join(SCHEMATHESIS_CHECKS)),
            *("--report", "junit", "--report-junit-path", str(junit)),
        ],
        cwd=tmp_path,  # anything Schemathesis writes stays out of the tree
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=400,
    )
    elapsed = time.monotonic() - started

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    suites = ElementTree.parse(junit).getroot()  # noqa: S314 - our own report
    assert int(suites.get("tests", 0)) >= 32, output[-3000:]  # every operation was tested
    assert int(suites.get("failures", 0)) == 0 and int(suites.get("errors", 0)) == 0, output[-12000:]
    assert elapsed < 300, f"the run took {elapsed:.0f} s"
