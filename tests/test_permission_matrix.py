"""Who may call what: a permission matrix generated from the URL resolver.

Every (route, method) under /api/v1/ is discovered at collection time and
must be classified in EXPECTATIONS; each is then requested as every persona.
A new endpoint fails `test_it_classifies_every_api_endpoint` until someone
decides who may use it.
"""

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from platform_core.jobs import create_job
from platform_core.models import AuditLog, Job
from platform_core.services import do_create_api_token
from tests.conftest import make_ready
from workspaces import services
from workspaces.models import Membership

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "owner", "editor", "viewer", "outsider", "site_admin", "auditor"]
SIGNED_IN = frozenset(PERSONAS) - {"anonymous"}
WORKSPACE_READERS = frozenset({"owner", "editor", "viewer", "site_admin"})
FILE_WRITERS = frozenset({"owner", "editor", "site_admin"})
WORKSPACE_MANAGERS = frozenset({"owner", "site_admin"})
AUDIT_READERS = frozenset({"site_admin", "auditor"})

# (route name, method) -> the personas allowed through authorisation.
EXPECTATIONS: dict[tuple[str, str], frozenset[str]] = {
    ("api:me", "get"): SIGNED_IN,
    ("api:token-list", "get"): SIGNED_IN,
    ("api:token-list", "post"): SIGNED_IN,
    ("api:token-detail", "get"): SIGNED_IN,
    ("api:token-detail", "delete"): SIGNED_IN,
    ("api:audit-list", "get"): AUDIT_READERS,
    ("api:audit-detail", "get"): AUDIT_READERS,
    ("api:job-list", "get"): SIGNED_IN,
    ("api:job-detail", "get"): SIGNED_IN,
    ("api:workspace-list", "get"): SIGNED_IN,
    ("api:workspace-list", "post"): SIGNED_IN,
    ("api:workspace-detail", "get"): WORKSPACE_READERS,
    ("api:workspace-detail", "patch"): WORKSPACE_MANAGERS,
    ("api:workspace-detail", "delete"): WORKSPACE_MANAGERS,
    ("api:workspace-reprovision", "post"): WORKSPACE_MANAGERS,
    ("api:workspace-member-list", "get"): WORKSPACE_READERS,
    ("api:workspace-member-list", "post"): WORKSPACE_MANAGERS,
    ("api:workspace-member-detail", "get"): WORKSPACE_READERS,
    ("api:workspace-member-detail", "patch"): WORKSPACE_MANAGERS,
    ("api:workspace-member-detail", "delete"): WORKSPACE_MANAGERS,
    ("api:workspace-files", "get"): WORKSPACE_READERS,
    ("api:workspace-files", "post"): FILE_WRITERS,
    ("api:workspace-files", "delete"): FILE_WRITERS,
    ("api:workspace-file-content", "get"): WORKSPACE_READERS,
    ("api:workspace-file-content", "put"): FILE_WRITERS,
    ("api:workspace-file-move", "post"): FILE_WRITERS,
    ("api:workspace-file-upload", "post"): FILE_WRITERS,
    ("api:workspace-file-download", "get"): WORKSPACE_READERS,
    ("api:workspace-file-list", "get"): WORKSPACE_READERS,
    ("api:workspace-file-search", "get"): WORKSPACE_READERS,
    ("api:workspace-runs", "post"): FILE_WRITERS,  # running code needs the terminal right: owners, editors
    # Language servers need the right to edit files, as their sessions do.
    ("api:workspace-lsp", "get"): FILE_WRITERS,
    ("api:workspace-lsp-restart", "post"): FILE_WRITERS,
    ("api:workspace-lsp-frames", "get"): FILE_WRITERS,
}
# Routes under a workspace: who cannot see that workspace gets 404, never 403.
WORKSPACE_SCOPED_ROUTES = {"api:workspace-detail", "api:workspace-reprovision"}
SCHEMA_ROUTE = "api:schema"
NOT_FOUND_ROUTE = "api:not-found"  # the JSON 404 for every other path, not an endpoint
# Permitted calls that still do not succeed, on purpose.
EXPECTED_REFUSALS = {
    ("api:workspace-detail", "delete"): 400,  # sent without ?confirm=<name>
    # The matrix's workspaces have no venv (making one per test is slow), so a
    # permitted run gets past authorisation and fails with environment_refresh_failed.
    ("api:workspace-runs", "post"): 503,
    # No language server runs in the matrix: a permitted caller learns there is no session.
    ("api:workspace-lsp-restart", "post"): 404,
    ("api:workspace-lsp-frames", "get"): 404,
}


@dataclass(frozen=True)
class Endpoint:
    name: str  # namespaced route name, e.g. "api:workspace-files"
    route: str  # the full route as written in the URLconfs
    method: str
    kwargs: tuple[str, ...]  # URL keyword arguments to fill in

    @property
    def workspace_scoped(self) -> bool:
        return "workspace_pk" in self.kwargs or self.name in WORKSPACE_SCOPED_ROUTES

    def __str__(self):
        return f"{self.method.upper()} {self.name}"


def _allowed_methods(callback) -> list[str]:
    if getattr(callback, "actions", None) is not None:
        # The router maps PUT for ModelViewSets even where http_method_names drops it.
        return [method for method in callback.actions if method in callback.cls.http_method_names]
    view_class = callback.view_class
    return [method for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)]


def _walk(patterns, route: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, route + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield route + str(pattern.pattern), f"{namespace}{pattern.name}", pattern


def discover_endpoints() -> list[Endpoint]:
    endpoints = []
    for route, name, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or name in (SCHEMA_ROUTE, NOT_FOUND_ROUTE):
            continue
        kwargs = tuple(pattern.pattern.regex.groupindex)
        endpoints += [Endpoint(name, route, method, kwargs) for method in _allowed_methods(pattern.callback)]
    return endpoints


ENDPOINTS = discover_endpoints()


def test_it_discovers_the_api_from_the_resolver():
    names = {endpoint.name for endpoint in ENDPOINTS}

    assert {"api:me", "api:workspace-files", "api:workspace-member-detail", "api:audit-detail"} <= names
    assert ("api:workspace-detail", "put") not in {(endpoint.name, endpoint.method) for endpoint in ENDPOINTS}


def test_it_classifies_every_api_endpoint():
    discovered = {(endpoint.name, endpoint.method) for endpoint in ENDPOINTS}

    unclassified = sorted(discovered - EXPECTATIONS.keys())
    stale = sorted(EXPECTATIONS.keys() - discovered)
    assert not unclassified, f"add these to EXPECTATIONS (who may call them?): {unclassified}"
    assert not stale, f"these EXPECTATIONS match no endpoint any more: {stale}"


# --- requests ------------------------------------------------------------------------------------


@pytest.fixture
def world(personas):
    """The personas' workspace, ready, with one file and the ids the routes need."""
    root = make_ready(personas.workspace)
    # Ready as if provisioned: its provisioning job is done, so reprovisioning is allowed.
    Job.objects.filter(target_id=str(personas.workspace.pk)).update(status=Job.Status.SUCCEEDED)
    (root / "main.py").write_text('print("hello")\n')
    return personas


def _url_kwargs(endpoint: Endpoint, personas, user) -> dict:
    workspace = personas.workspace
    someone = user or personas.owner  # anonymous requests still need real ids
    ids = {
        "api:token-detail": lambda: do_create_api_token(someone, "matrix", 30)[0].pk,
        "api:job-detail": lambda: create_job("matrix.check", target=workspace, created_by=someone).pk,
        "api:audit-detail": lambda: AuditLog.objects.latest("id").pk,
        "api:workspace-member-detail": lambda: Membership.objects.get(workspace=workspace, user=personas.editor).pk,
    }
    kwargs = {}
    for name in endpoint.kwargs:
        if name == "workspace_pk" or endpoint.name in WORKSPACE_SCOPED_ROUTES:
            kwargs[name] = workspace.pk
        elif name == "server":
            kwargs[name] = "ruff"
        else:
            kwargs[name] = ids[endpoint.name]()
    return kwargs


def _payload(endpoint: Endpoint, personas) -> tuple[str, dict | None, str]:
    """A query string, body and format that a permitted caller would get a success with."""
    bodies = {
        ("api:token-list", "post"): {"name": "matrix", "expires_in_days": 30},
        ("api:workspace-list", "post"): {"name": "Matrix"},
        ("api:workspace-detail", "patch"): {"name": "Renamed"},
        ("api:workspace-member-list", "post"): {"username": personas.outsider.username, "role": "viewer"},
        ("api:workspace-member-detail", "patch"): {"role": "viewer"},
        ("api:workspace-files", "post"): {"path": "made.txt", "type": "file"},
        ("api:workspace-file-content", "put"): {"content": "x = 1\n", "etag": None},
        ("api:workspace-file-move", "post"): {"source": "main.py", "destination": "moved.py"},
        ("api:workspace-runs", "post"): {"code": "print(1)", "timeout_seconds": 5},
    }
    queries = {
        "api:workspace-files": "?path=main.py" if endpoint.method == "delete" else "",
        "api:workspace-file-content": "?path=new.py" if endpoint.method == "put" else "?path=main.py",
        "api:workspace-file-download": "?path=main.py",
        "api:workspace-file-search": "?q=hello",
        # No ?confirm: a permitted caller gets 400 confirmation_required, nothing is deleted.
        "api:workspace-detail": "",
    }
    if endpoint.name == "api:workspace-file-upload":
        return "", {"file": SimpleUploadedFile("up.txt", b"uploaded")}, "multipart"
    return queries.get(endpoint.name, ""), bodies.get((endpoint.name, endpoint.method)), "json"


def call(api, endpoint: Endpoint, personas, persona: str):
    user = personas.by_name(persona)
    url = reverse(endpoint.name, kwargs=_url_kwargs(endpoint, personas, user))
    query, body, body_format = _payload(endpoint, personas)
    client = api.as_user(user)
    return getattr(client, endpoint.method)(url + query, body, format=body_format)


def _expected(endpoint: Endpoint, persona: str) -> str:
    allowed = EXPECTATIONS.get((endpoint.name, endpoint.method))
    if allowed is None:
        pytest.fail(f"{endpoint} is not classified in EXPECTATIONS")
    if persona == "anonymous":
        return "401"
    if persona in allowed:
        return "allowed"
    if endpoint.workspace_scoped and persona not in WORKSPACE_READERS:
        return "404"
    return "403"


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_it_authorises_every_endpoint_for_exactly_the_right_personas(api, world, endpoint, persona):
    expected = _expected(endpoint, persona)

    response = call(api, endpoint, world, persona)

    status = response.status_code
    assert status < 500 or status == EXPECTED_REFUSALS.get((endpoint.name, endpoint.method)), response.content
    if expected == "allowed":
        # The bodies are valid, so a permitted caller succeeds outright (not just "not 403").
        success = {EXPECTED_REFUSALS.get((endpoint.name, endpoint.method), 200), 200, 201, 202, 204}
        assert status in success, (expected, status, response.content)
        return
    assert status == int(expected), (expected, status, response.content)
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == {"401": "not_authenticated", "403": "permission_denied", "404": "not_found"}[expected]


def test_it_serves_the_schema_only_to_signed_in_users(api, personas):
    url = reverse(SCHEMA_ROUTE)

    anonymous = api.as_user(None).get(url)
    signed_in = api.as_user(personas.outsider).get(url)

    assert anonymous.status_code == 401
    # The schema view renders its errors as YAML, like the schema itself: same shape, other syntax.
    assert b"code: not_authenticated" in anonymous.content
    assert signed_in.status_code == 200
    assert signed_in.content.startswith(b"openapi:")


# --- query counts --------------------------------------------------------------------------------

WORKSPACE_LIST_MAX_QUERIES = 6  # measured 5 for 1 and for 20 workspaces; one spare


@pytest.mark.parametrize("count", [1, 20])
def test_it_lists_workspaces_in_a_bounded_number_of_queries(api, personas, django_assert_max_num_queries, count):
    for number in range(count - 1):  # the personas' workspace is the first
        workspace = services.do_create_workspace(f"Project {number}", acting_user=personas.owner)
        services.do_add_member(workspace, personas.viewer, Membership.Role.VIEWER, acting_user=personas.owner)
    client = api.as_user(personas.viewer)

    with django_assert_max_num_queries(WORKSPACE_LIST_MAX_QUERIES):
        response = client.get("/api/v1/workspaces/")

    assert response.json()["count"] == count
    assert {row["my_role"] for row in response.json()["results"]} == {"viewer"}
